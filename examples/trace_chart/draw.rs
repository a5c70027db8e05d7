//! The chart as SVG: lanes left to right, rows top to bottom, arrows for the joins; and an HTML page around it.

use crate::model::{cut, Chart};
use std::fmt::Write;

const ROW: usize = 24;
const TOP: usize = 70;
const TIME_W: usize = 80;
/// The first lane's labels are on its left, in this much room.
const LEFT_LABELS: usize = 400;
const LANE_GAP: usize = 420;
const RIGHT_LABELS: usize = 420;

fn x_of(lane: usize) -> usize {
    TIME_W + LEFT_LABELS + lane * LANE_GAP
}

fn y_of(row: usize) -> usize {
    TOP + 20 + row * ROW
}

/// Text for XML: `&`, `<`, `>` and quotes as entities (the trace already escaped control characters).
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn bytes(n: u64) -> String {
    match n {
        1 => "1 byte".into(),
        n if n >= 10 * 1024 * 1024 => format!("{} MiB", n / (1024 * 1024)),
        n => format!("{n} bytes"),
    }
}

pub fn svg(chart: &Chart, title: Option<&str>) -> String {
    let lanes = chart.lanes.len().max(1);
    let rows = chart.events.len();
    let width = x_of(lanes - 1) + RIGHT_LABELS;
    let height = y_of(rows) + 20;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="12" data-lanes="{}" data-arrows="{}">"##,
        chart.lanes.len(),
        chart.joins.len()
    );
    s.push_str(concat!(
        r##"<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1565c0"/></marker>"##,
        r##"<marker id="headudp" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#2e7d32"/></marker></defs>"##,
        "\n"
    ));
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let title = title.unwrap_or("time flows down; each arrow: bytes of a send, read by a recv");
    let _ = writeln!(
        s,
        r##"<text x="10" y="20" font-size="14" font-weight="bold">{}</text>"##,
        xml(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="38" fill="#555">rows follow time (each mark's time, in seconds, on the left); not to scale</text>"##
    );
    for (i, lane) in chart.lanes.iter().enumerate() {
        let x = x_of(i);
        let _ = writeln!(
            s,
            r##"<g class="lane" data-lane="{i}"><text x="{x}" y="{}" text-anchor="middle" font-weight="bold">{}</text><line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#999" stroke-width="2"/></g>"##,
            TOP - 4,
            xml(&lane.label),
            TOP + 4,
            height - 10
        );
    }
    // Arrows under the marks.
    for (k, j) in chart.joins.iter().enumerate() {
        let send = &chart.events[j.send];
        let (x1, y1) = (x_of(send.lane), y_of(send.row));
        let (color, head) = if j.udp {
            ("#2e7d32", "headudp")
        } else {
            ("#1565c0", "head")
        };
        let what = if j.udp {
            bytes(j.to)
        } else {
            format!("{} ({}..{})", bytes(j.to - j.from), j.from, j.to)
        };
        match j.recv {
            Some(r) => {
                let recv = &chart.events[r];
                let (x2, y2) = (x_of(recv.lane), y_of(recv.row));
                let (mx, my) = ((x1 + x2) / 2, (y1 + y2) / 2);
                let _ = writeln!(
                    s,
                    r##"<g class="arrow" data-arrow="{k}" data-send="e{}" data-recv="e{r}" data-bytes="{}-{}"><line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{color}" stroke-width="1.5" marker-end="url(#{head})"/><text x="{mx}" y="{}" text-anchor="middle" fill="{color}" font-size="10">{}</text></g>"##,
                    j.send,
                    j.from,
                    j.to,
                    my.saturating_sub(3),
                    xml(&what)
                );
            }
            None => {
                // Lost (UDP) or never read (TCP): an arrow that stops halfway, at a cross.
                let toward: isize = if send.lane + 1 < chart.lanes.len() {
                    1
                } else {
                    -1
                };
                let x2 = (x1 as isize + toward * (LANE_GAP as isize / 2)) as usize;
                let y2 = y1 + ROW / 2;
                let why = if j.udp { "lost" } else { "never read" };
                let _ = writeln!(
                    s,
                    r##"<g class="arrow lost" data-arrow="{k}" data-send="e{}" data-lost="1" data-bytes="{}-{}"><line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#c62828" stroke-width="1.5" stroke-dasharray="4 3"/><path d="M{} {} l8 8 M{} {} l-8 8" stroke="#c62828" stroke-width="2"/><text x="{x2}" y="{}" text-anchor="middle" fill="#c62828" font-size="10">{why}: {}</text></g>"##,
                    j.send,
                    j.from,
                    j.to,
                    x2 - 4,
                    y2 - 4,
                    x2 + 4,
                    y2 - 4,
                    y2 + 14,
                    xml(&what)
                );
            }
        }
    }
    for (i, e) in chart.events.iter().enumerate() {
        let (x, y) = (x_of(e.lane), y_of(e.row));
        let (tx, anchor) = if e.lane == 0 {
            (x - 10, "end")
        } else {
            (x + 10, "start")
        };
        let color = match e.call.as_str() {
            "send" | "sendto" => "#1565c0",
            "recv" | "recvfrom" => "#6a1b9a",
            "frame" => "#777",
            _ => "#333",
        };
        let _ = writeln!(
            s,
            r##"<g class="call" id="e{i}" data-call="{}"><text x="10" y="{}" fill="#888" font-size="10">+{}.{:06}</text><circle cx="{x}" cy="{y}" r="4" fill="{color}"/><text x="{tx}" y="{}" text-anchor="{anchor}" fill="{color}">{}</text></g>"##,
            xml(&e.call),
            y + 4,
            e.t_us / 1_000_000,
            e.t_us % 1_000_000,
            y + 4,
            xml(&cut(&e.label, 46))
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A page that shows the SVG and checks itself: its script counts the arrows and, only if all
/// went well, sets the title to `ok N` (a headless browser's test reads it).
pub fn html(svg: &str, chart: &Chart, title: Option<&str>) -> String {
    let title = xml(title.unwrap_or("trace_chart"));
    format!(
        r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>body {{ margin: 16px; background: #fafafa; }} #count {{ font: 12px monospace; color: #555; }}</style>
</head>
<body>
{svg}<p id="count" data-expected="{}"></p>
<script>
(function () {{
  var arrows = document.querySelectorAll("svg g.arrow").length;
  var joined = document.querySelectorAll("svg g.arrow[data-recv]").length;
  var lost = document.querySelectorAll("svg g.arrow[data-lost]").length;
  document.getElementById("count").textContent = arrows + " arrows: " + joined + " joined, " + lost + " lost or never read";
  document.title = "ok " + arrows;
}})();
</script>
</body>
</html>
"##,
        chart.joins.len()
    )
}
