//! The result of a run: printed as a table, written as `<name>.json` and drawn as `<name>.svg`
//! (the latency percentile curve of every series, and the histogram of the main one).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use plotters::prelude::*;
use serde::Serialize;

use crate::stats::LatencySummary;
use crate::target::{Machine, ServerInfo};
use crate::OutputArgs;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub scenario: String,
    /// The chat server measured: `confab`, `socketio`, `xmpp`.
    pub system: String,
    /// Milliseconds since the Unix epoch when the run started.
    pub started_at: i64,
    pub machine: Machine,
    pub server: ServerInfo,
    /// The scenario's parameters as given.
    pub params: serde_json::Value,
    /// One step per load level (one for most scenarios).
    pub steps: Vec<Step>,
    /// Anything the reader must know to interpret the figures.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub label: String,
    pub metrics: Vec<Metric>,
    pub latencies: Vec<LatencySummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

impl Step {
    pub fn new(label: impl Into<String>) -> Step {
        Step { label: label.into(), metrics: Vec::new(), latencies: Vec::new() }
    }

    pub fn metric(&mut self, name: &str, value: f64, unit: &str) {
        self.metrics.push(Metric { name: name.into(), value, unit: unit.into() });
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.metrics.iter().find(|m| m.name == name).map(|m| m.value)
    }

    pub fn latency(&self, name: &str) -> Option<&LatencySummary> {
        self.latencies.iter().find(|l| l.name == name)
    }

    /// Server CPU per unit of work, from two /proc samples around the load phase.
    pub fn cpu_metrics(
        &mut self,
        before: Option<crate::target::ProcSample>,
        after: Option<crate::target::ProcSample>,
        units: u64,
        per: &str,
    ) {
        if let (Some(b), Some(a)) = (before, after) {
            let cpu = (a.cpu_secs - b.cpu_secs).max(0.0);
            self.metric("server_cpu", cpu, "s");
            if units > 0 {
                self.metric(&format!("server_cpu_per_{per}"), cpu * 1e6 / units as f64, "µs");
            }
            self.metric("server_rss", a.rss_kib as f64 / 1024.0, "MiB");
        }
    }

    /// The load generator's own CPU over the step, in seconds and as a share of `elapsed`: near
    /// 100 % of its core(s), the generator rather than the server may be what limits the step.
    pub fn generator_cpu_metrics(
        &mut self,
        before: Option<crate::target::ProcSample>,
        after: Option<crate::target::ProcSample>,
        elapsed: f64,
    ) {
        if let (Some(b), Some(a)) = (before, after) {
            let cpu = (a.cpu_secs - b.cpu_secs).max(0.0);
            self.metric("generator_cpu", cpu, "s");
            self.metric("generator_cpu_share", 100.0 * cpu / elapsed.max(1e-9), "%");
        }
    }
}

impl Report {
    pub fn new(scenario: &str, system: &str, server: ServerInfo, params: serde_json::Value) -> Report {
        let started_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Report {
            scenario: scenario.into(),
            system: system.into(),
            started_at,
            machine: Machine::detect(),
            server,
            params,
            steps: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A metric of the last step.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.steps.last().and_then(|s| s.get(name))
    }

    fn file_stem(&self, output: &OutputArgs) -> String {
        output.name.clone().unwrap_or_else(|| format!("{}-{}", self.scenario, self.system))
    }

    /// Prints the table and writes the JSON and SVG files.
    pub fn emit(&self, output: &OutputArgs) -> anyhow::Result<()> {
        print!("{}", self.table());
        std::fs::create_dir_all(&output.out).with_context(|| format!("creating {}", output.out.display()))?;
        let stem = self.file_stem(output);
        let json: PathBuf = output.out.join(format!("{stem}.json"));
        std::fs::write(&json, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", json.display()))?;
        println!("report: {}", json.display());
        if !output.no_svg && self.steps.iter().any(|s| s.latencies.iter().any(|l| l.count > 0)) {
            let svg = output.out.join(format!("{stem}.svg"));
            self.draw(&svg).with_context(|| format!("drawing {}", svg.display()))?;
            println!("chart:  {}", svg.display());
        }
        Ok(())
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "\n== {} · {} · {} CPUs ({}), {:.1} GiB RAM ==",
            self.scenario,
            self.system,
            m.nproc,
            m.cpu_model,
            m.mem_total_kib as f64 / 1048576.0
        );
        if let Some(cmd) = &self.server.command {
            let _ = writeln!(out, "server: {cmd}");
        }
        for step in &self.steps {
            let _ = writeln!(out, "-- {}", step.label);
            for metric in &step.metrics {
                let _ = writeln!(out, "  {:<34} {:>14} {}", metric.name, fmt_num(metric.value), metric.unit);
            }
            if !step.latencies.is_empty() {
                let _ = writeln!(
                    out,
                    "  {:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}   (ms)",
                    "latency", "count", "p50", "p90", "p99", "p99.9", "max"
                );
                for l in &step.latencies {
                    let _ = writeln!(
                        out,
                        "  {:<22} {:>9} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                        l.name, l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
                    );
                }
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }

    /// Two panels: every series' percentile curve (log x: 1/(1-p)), and the histogram of the
    /// last step's first series.
    fn draw(&self, path: &std::path::Path) -> anyhow::Result<()> {
        let root = SVGBackend::new(path, (1000, 800)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let (top, bottom) = root.split_vertically(420);
        let series: Vec<(String, &LatencySummary)> = self
            .steps
            .iter()
            .flat_map(|s| {
                s.latencies.iter().filter(|l| l.count > 0).map(move |l| {
                    let label = if self.steps.len() > 1 {
                        format!("{} · {}", s.label, l.name)
                    } else {
                        l.name.clone()
                    };
                    (label, l)
                })
            })
            .collect();
        let max_ms = series.iter().map(|(_, l)| l.max_ms).fold(0.001, f64::max);
        let max_x = 1e5f64;
        let title = format!("{} · {} — latency by percentile", self.scenario, self.system);
        let mut chart = ChartBuilder::on(&top)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((1f64..max_x).log_scale(), 0f64..max_ms * 1.05)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .x_label_formatter(&|x| format!("{}%", trim_pct(100.0 - 100.0 / x)))
            .draw()
            .map_err(plot_err)?;
        for (i, (label, l)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let points: Vec<(f64, f64)> = l
                .curve
                .iter()
                .map(|&(p, v)| ((1.0 / (1.0 - p / 100.0).max(1.0 / max_x)).min(max_x), v))
                .collect();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(plot_err)?
                .label(label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(plot_err)?;

        if let Some((label, main)) = self
            .steps
            .last()
            .and_then(|s| s.latencies.iter().find(|l| l.count > 0).map(|l| (s.label.clone(), l)))
        {
            let hi = main.buckets.last().map(|b| b.1).unwrap_or(1.0);
            let lo = main.buckets.first().map(|b| b.0).unwrap_or(0.001);
            let top_count = main.buckets.iter().map(|b| b.2).max().unwrap_or(1).max(1);
            let mut hist = ChartBuilder::on(&bottom)
                .caption(format!("{} — {} histogram", label, main.name), ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d((lo..hi).log_scale(), 0u64..top_count + top_count / 10 + 1)
                .map_err(plot_err)?;
            hist.configure_mesh()
                .x_desc("latency (ms, log scale)")
                .y_desc("messages")
                .draw()
                .map_err(plot_err)?;
            hist.draw_series(
                main.buckets
                    .iter()
                    .map(|&(a, b, c)| Rectangle::new([(a, 0), (b, c)], Palette99::pick(0).mix(0.7).filled())),
            )
            .map_err(plot_err)?;
        }
        root.present().map_err(plot_err)?;
        Ok(())
    }
}

fn trim_pct(p: f64) -> String {
    let s = format!("{p:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("plotting: {e:?}")
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}
