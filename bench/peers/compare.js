// Reads bench/results/peers/{latency,connections}-<system>.json and prints the comparison as
// Markdown: ratios are Confab ÷ peer (for latency, CPU and memory lower is better, so a ratio
// under 1 favours Confab; for throughput and connect rate higher is better).
// Usage: node bench/peers/compare.js [results dir] ["confab socketio …"]
"use strict";
const fs = require("fs");
const path = require("path");
const dir = process.argv[2] || "bench/results/peers";
const load = (f) => {
  const p = path.join(dir, f);
  return fs.existsSync(p) ? JSON.parse(fs.readFileSync(p, "utf8")) : null;
};
// The systems to compare (argv[3], space-separated, as run.sh's SYSTEMS): a run of some of them
// must not be set beside results an earlier run left for the others. Without it, every system
// with results in `dir`.
const asked = process.argv[3] ? process.argv[3].split(/\s+/).filter(Boolean) : null;
const known = ["confab", "socketio", "prosody", "ejabberd", "ejabberd-mnesia", "synapse"];
const systems = known.filter((s) => (!asked || asked.includes(s)) && load(`latency-${s}.json`));
const lat = Object.fromEntries(systems.map((s) => [s, load(`latency-${s}.json`)]));
const con = Object.fromEntries(systems.map((s) => [s, load(`connections-${s}.json`)]));
const metric = (step, name) => (step.metrics.find((m) => m.name === name) || {}).value;
const latency = (step, name) => step.latencies.find((l) => l.name === name) || {};
// A latency with no sample (nothing arrived within the step and its grace) has no percentiles.
const delivery = (step) => {
  const d = latency(step, "send→delivery");
  return d.count ? d : {};
};
const fmt = (v, d = 2) => (v === undefined || v === null || Number.isNaN(v) ? "—" : Number(v).toFixed(d));
const ratio = (a, b) => (a === undefined || b === undefined || !b ? "—" : (a / b).toFixed(2));
const peers = systems.filter((s) => s !== "confab");
const m = lat.confab ? lat.confab.machine : {};
let out = `# Same-run comparison\n\nMachine: ${m.nproc} CPUs (${m.cpuModel}), ` +
  `${((m.memTotalKib || 0) / 1048576).toFixed(1)} GiB RAM, kernel ${m.kernel}. Servers pinned to CPU 0, load generator to CPU 1.\n\n`;

const stepsOf = (s) => lat[s].steps.filter((x) => x.label !== "summary");
const rates = [...new Set(systems.flatMap((s) => stepsOf(s).map((x) => metric(x, "offered_rate"))))].sort((a, b) => a - b);
const at = (s, r) => stepsOf(s).find((x) => metric(x, "offered_rate") === r);
const kept = (st) => st && metric(st, "lost") === 0 && delivery(st).p99Ms < 50;

out += "## Latency (ms) and server CPU per delivered message (µs) by offered load\n\n";
out += "A system missing at a rate had stopped: it did not sustain a lower one (p99 over 50 ms or messages lost).\n\n";
out += "| offered msg/s | system | delivery p50 | p99 | p99.9 | ack p50 | ack p99 | lost | server CPU/msg |\n";
out += "|---|---|---|---|---|---|---|---|---|\n";
for (const r of rates) {
  for (const s of systems) {
    const st = at(s, r);
    if (!st) continue;
    const d = delivery(st);
    const a = latency(st, "send→ack").count ? latency(st, "send→ack") : {};
    out += `| ${r} | ${s} | ${fmt(d.p50Ms)} | ${fmt(d.p99Ms)} | ${fmt(d.p999Ms)} | ${fmt(a.p50Ms)} | ${fmt(a.p99Ms)} | ` +
      `${metric(st, "lost")} | ${fmt(metric(st, "server_cpu_per_delivered_msg"), 1)} |\n`;
  }
}
const sustained = (s) => {
  const sum = lat[s].steps.find((x) => x.label === "summary");
  return sum ? sum.metrics[0].value : undefined;
};
const conStep = (s) => (con[s] ? con[s].steps[0] : undefined);
const memPer = (s) => (conStep(s) ? metric(conStep(s), "server_memory_per_connection") : undefined);
const connectRate = (s) => (conStep(s) ? metric(conStep(s), "connect_rate") : undefined);
// Equal load, per peer: the highest rate both Confab and the peer sustained; else the lowest rate.
const equal = (p) => {
  const both = rates.filter((r) => kept(at("confab", r)) && kept(at(p, r)));
  return both.length ? both[both.length - 1] : rates[0];
};
const low = rates[0];
out += `\n## Ratios, Confab ÷ peer\n\n"Equal load" is, per peer, the highest offered rate both Confab and that peer sustained (p99 < 50 ms, nothing lost).\n\n`;
out += "| measure | " + peers.map((p) => `Confab ÷ ${p}`).join(" | ") + " | better |\n|---|" + peers.map(() => "---|").join("") + "---|\n";
const row = (name, f, better) => {
  out += `| ${name} | ` + peers.map((p) => ratio(f("confab", p), f(p, p))).join(" | ") + ` | ${better} |\n`;
};
const pick = (r, f) => (s) => { const st = at(s, r); return st ? f(st) : undefined; };
out += "| equal load (msg/s) | " + peers.map((p) => equal(p)).join(" | ") + " | |\n";
row("sustained throughput at p99 < 50 ms", (s) => sustained(s), "higher");
row(`p50 send→delivery at ${low} msg/s`, (s) => pick(low, (st) => delivery(st).p50Ms)(s), "lower");
row("p50 send→delivery at equal load", (s, p) => pick(equal(p), (st) => delivery(st).p50Ms)(s), "lower");
row("p99 send→delivery at equal load", (s, p) => pick(equal(p), (st) => delivery(st).p99Ms)(s), "lower");
row("p99.9 send→delivery at equal load", (s, p) => pick(equal(p), (st) => delivery(st).p999Ms)(s), "lower");
row("server CPU per delivered message at equal load", (s, p) => pick(equal(p), (st) => metric(st, "server_cpu_per_delivered_msg"))(s), "lower");
row("server memory per idle connection", (s) => memPer(s), "lower");
row("connect rate", (s) => connectRate(s), "higher");
out += "\n| system | sustained msg/s (p99 < 50 ms) | memory per idle connection (KiB) | idle connections | connect rate (conn/s) |\n|---|---|---|---|---|\n";
for (const s of systems) {
  const c = conStep(s);
  out += `| ${s} | ${fmt(sustained(s), 0)} | ${fmt(memPer(s), 1)} | ${c ? metric(c, "connections") : "—"} | ${c ? fmt(connectRate(s), 0) : "—"} |\n`;
}
out += "\nWhat each system does with a message during these runs:\n\n";
for (const s of systems) out += `- ${s}: ${lat[s].notes[0]}\n`;
process.stdout.write(out);
