//! A small SVG chart of the TCP benchmark, written by hand (std only): two panels against the number of clients.

use std::fmt::Write;

/// One line on a panel.
pub struct Series {
    pub name: &'static str,
    pub color: &'static str,
    /// (clients, value), clients >= 1.
    pub points: Vec<(f64, f64)>,
}

/// One panel: a title, the unit of its y axis, and its lines.
pub struct Panel {
    pub title: &'static str,
    pub unit: &'static str,
    pub series: Vec<Series>,
}

const PANEL_W: f64 = 420.0;
const PANEL_H: f64 = 260.0;
const MARGIN_L: f64 = 70.0;
const MARGIN_T: f64 = 50.0;
const GAP: f64 = 90.0;

/// The whole chart: panels side by side, a legend under them, and the caption (which machine, which command).
pub fn render(panels: &[Panel], caption: &[String]) -> String {
    let width = MARGIN_L + panels.len() as f64 * (PANEL_W + GAP);
    let height = MARGIN_T + PANEL_H + 90.0 + 18.0 * caption.len() as f64;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (i, panel) in panels.iter().enumerate() {
        let x0 = MARGIN_L + i as f64 * (PANEL_W + GAP);
        draw_panel(&mut svg, panel, x0, MARGIN_T);
    }
    // Legend: the series of the first panel name the lines for all.
    let mut lx = MARGIN_L;
    let ly = MARGIN_T + PANEL_H + 50.0;
    if let Some(first) = panels.first() {
        for s in &first.series {
            let _ = writeln!(
                svg,
                r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
                lx + 24.0,
                s.color,
                lx + 30.0,
                ly + 4.0,
                escape(s.name)
            );
            lx += 40.0 + 7.0 * s.name.len() as f64;
        }
    }
    for (i, line) in caption.iter().enumerate() {
        let _ = writeln!(
            svg,
            r##"<text x="{MARGIN_L}" y="{}" fill="#555">{}</text>"##,
            ly + 30.0 + 18.0 * i as f64,
            escape(line)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn draw_panel(svg: &mut String, panel: &Panel, x0: f64, y0: f64) {
    let max_clients = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let decades = max_clients.log10().ceil().max(1.0);
    let max_y = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let (top, step) = nice_scale(max_y);
    let x_of = |clients: f64| x0 + clients.max(1.0).log10() / decades * PANEL_W;
    let y_of = |v: f64| y0 + PANEL_H - v / top * PANEL_H;
    let _ = writeln!(
        svg,
        r#"<text x="{x0}" y="{}" font-size="14" font-weight="bold">{}</text>"#,
        y0 - 20.0,
        escape(panel.title)
    );
    // Horizontal grid and y labels.
    let mut v = 0.0;
    while v <= top + step / 2.0 {
        let y = y_of(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{x0}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            x0 + PANEL_W,
            x0 - 6.0,
            y + 4.0,
            label(v)
        );
        v += step;
    }
    // Decades on the x axis.
    for d in 0..=decades as u32 {
        let clients = 10f64.powi(d as i32);
        let x = x_of(clients);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{}" stroke="#eee"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##,
            y0 + PANEL_H,
            y0 + PANEL_H + 16.0,
            label(clients)
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">clients (log scale)</text>"#,
        x0 + PANEL_W / 2.0,
        y0 + PANEL_H + 34.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {} {})">{}</text>"#,
        x0 - 52.0,
        y0 + PANEL_H / 2.0,
        x0 - 52.0,
        y0 + PANEL_H / 2.0,
        escape(panel.unit)
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{x0}" y="{y0}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#888"/>"##
    );
    for s in &panel.series {
        let points: Vec<String> = s
            .points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|&(c, v)| format!("{:.1},{:.1}", x_of(c), y_of(v)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2.5"/>"#,
            points.join(" "),
            s.color
        );
        for &(c, v) in s.points.iter().filter(|p| p.1.is_finite()) {
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{}"><title>{}: {} clients, {} {}</title></circle>"#,
                x_of(c),
                y_of(v),
                s.color,
                escape(s.name),
                c,
                label(v),
                escape(panel.unit)
            );
        }
    }
}

/// A round top for the axis and a step that gives four to eight grid lines.
fn nice_scale(max: f64) -> (f64, f64) {
    if max <= 0.0 {
        return (1.0, 0.25);
    }
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| max / s <= 8.0)
        .unwrap_or(10.0 * magnitude);
    ((max / step).ceil() * step, step)
}

fn label(v: f64) -> String {
    if v >= 10_000.0 && v % 1000.0 == 0.0 {
        format!("{}k", v / 1000.0)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
