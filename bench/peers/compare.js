// Reads bench/results/peers/{latency,connections}-<system>.json and prints the comparison as
// Markdown: ratios are Confab ÷ peer (for latency, CPU and memory lower is better, so a ratio
// under 1 favours Confab; for throughput higher is better).
"use strict";
const fs = require("fs");
const path = require("path");
const dir = process.argv[2] || "bench/results/peers";
const load = (f) => {
  const p = path.join(dir, f);
  return fs.existsSync(p) ? JSON.parse(fs.readFileSync(p, "utf8")) : null;
};
const systems = ["confab", "socketio", "xmpp"].filter((s) => load(`latency-${s}.json`));
const lat = Object.fromEntries(systems.map((s) => [s, load(`latency-${s}.json`)]));
const con = Object.fromEntries(systems.map((s) => [s, load(`connections-${s}.json`)]));
const metric = (step, name) => (step.metrics.find((m) => m.name === name) || {}).value;
const delivery = (step) => step.latencies.find((l) => l.name === "send→delivery") || {};
const fmt = (v, d = 2) => (v === undefined || v === null || Number.isNaN(v) ? "—" : Number(v).toFixed(d));
const ratio = (a, b) => (a === undefined || b === undefined || !b ? "—" : (a / b).toFixed(2));
const peers = systems.filter((s) => s !== "confab");
const m = lat.confab ? lat.confab.machine : {};
let out = `# Same-run comparison\n\nMachine: ${m.nproc} CPUs (${m.cpuModel}), ` +
  `${((m.memTotalKib || 0) / 1048576).toFixed(1)} GiB RAM, kernel ${m.kernel}. Servers pinned to CPU 0, load generator to CPU 1.\n\n`;

const rates = lat.confab ? lat.confab.steps.filter((s) => s.label !== "summary").map((s) => metric(s, "offered_rate")) : [];
out += "## Delivery latency (send→delivery, ms) and server CPU per delivered message (µs) by offered load\n\n";
out += "| offered msg/s | " + systems.map((s) => `${s} p50 | ${s} p99 | ${s} lost | ${s} CPU/msg`).join(" | ") + " |\n";
out += "|---" + "|---".repeat(systems.length * 4) + "|\n";
for (const r of rates) {
  const cells = systems.map((s) => {
    const st = lat[s].steps.find((x) => metric(x, "offered_rate") === r);
    if (!st) return "— | — | — | —";
    return `${fmt(delivery(st).p50Ms)} | ${fmt(delivery(st).p99Ms)} | ${metric(st, "lost")} | ${fmt(metric(st, "server_cpu_per_delivered_msg"), 1)}`;
  });
  out += `| ${r} | ${cells.join(" | ")} |\n`;
}
const sustained = (s) => {
  const sum = lat[s].steps.find((x) => x.label === "summary");
  return sum ? sum.metrics[0].value : undefined;
};
const memPer = (s) => (con[s] ? metric(con[s].steps[0], "server_memory_per_connection") : undefined);
const atRate = (s, r, f) => {
  const st = lat[s].steps.find((x) => metric(x, "offered_rate") === r);
  return st ? f(st) : undefined;
};
// "Equal load": the highest offered rate that every system sustained; else the lowest rate.
const common = rates.filter((r) => systems.every((s) => atRate(s, r, (st) => metric(st, "lost") === 0 && delivery(st).p99Ms < 50)));
const eq = common.length ? common[common.length - 1] : rates[0];
out += `\n## Ratios, Confab ÷ peer (equal load = ${eq} msg/s, the highest rate every system sustained)\n\n`;
out += "| measure | " + peers.map((p) => `Confab ÷ ${p}`).join(" | ") + " | better |\n|---|" + peers.map(() => "---|").join("") + "---|\n";
const row = (name, f, better) => {
  out += `| ${name} | ` + peers.map((p) => ratio(f("confab"), f(p))).join(" | ") + ` | ${better} |\n`;
};
row("sustained throughput at p99 < 50 ms", sustained, "higher");
row(`p99 send→delivery at ${eq} msg/s`, (s) => atRate(s, eq, (st) => delivery(st).p99Ms), "lower");
row(`server CPU per delivered message at ${eq} msg/s`, (s) => atRate(s, eq, (st) => metric(st, "server_cpu_per_delivered_msg")), "lower");
row("server memory per idle connection", memPer, "lower");
out += "\n| system | sustained msg/s (p99 < 50 ms) | memory per idle connection (KiB) | idle connections | connect rate (conn/s) |\n|---|---|---|---|---|\n";
for (const s of systems) {
  const c = con[s] && con[s].steps[0];
  out += `| ${s} | ${fmt(sustained(s), 0)} | ${fmt(memPer(s), 1)} | ${c ? metric(c, "connections") : "—"} | ${c ? fmt(metric(c, "connect_rate"), 0) : "—"} |\n`;
}
out += "\nDurability of each system during these runs:\n\n";
for (const s of systems) out += `- ${s}: ${lat[s].notes[0]}\n`;
process.stdout.write(out);
