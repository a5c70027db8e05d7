//! The traces read (docs/TRACE.md), put on one time line, in lanes, and joined: which recv read which send's bytes, which sendto reached which recvfrom.

use std::collections::BTreeMap;

/// One program's trace file.
pub struct Trace {
    pub program: String,
    pub start_unix_us: u64,
    pub records: Vec<Record>,
}

/// One record: when, on which socket, which call, and its fields.
pub struct Record {
    pub t_us: u64,
    pub conn: String,
    pub call: String,
    pub fields: BTreeMap<String, String>,
}

impl Record {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    fn num(&self, key: &str) -> Option<u64> {
        self.get(key)?.parse().ok()
    }
}

impl Trace {
    pub fn parse(text: &str) -> Result<Trace, String> {
        let mut lines = text.lines();
        let header = lines.next().ok_or("empty file: not a trace")?;
        let mut head = header.split('\t');
        if head.next() != Some("# socket-tutorial trace 1") {
            return Err("not a trace file of version 1 (docs/TRACE.md)".into());
        }
        let head: BTreeMap<&str, &str> = head.filter_map(|f| f.split_once('=')).collect();
        let program = head.get("program").unwrap_or(&"?").to_string();
        let start_unix_us = head
            .get("start_unix_us")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut records = Vec::new();
        for (n, line) in lines.enumerate() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let mut parts = line.split('\t');
            let bad = || format!("line {}: not a record", n + 2);
            let t_us = parts.next().and_then(|t| t.parse().ok()).ok_or_else(bad)?;
            let conn = parts.next().ok_or_else(bad)?.to_string();
            let call = parts.next().ok_or_else(bad)?.to_string();
            let fields = parts
                .filter_map(|f| f.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            records.push(Record {
                t_us,
                conn,
                call,
                fields,
            });
        }
        Ok(Trace {
            program,
            start_unix_us,
            records,
        })
    }
}

/// A vertical line of the drawing: one program, or one of a server's connections.
pub struct Lane {
    pub label: String,
}

/// A mark: one record, in its lane, at its row.
pub struct Event {
    pub lane: usize,
    /// Microseconds since the first trace started.
    pub t_us: u64,
    pub row: usize,
    pub call: String,
    pub label: String,
}

/// An arrow: bytes `from..to` of one direction of a connection, sent by `send` and read by `recv`;
/// for UDP a whole datagram; `recv` is `None` for a datagram nobody received.
pub struct Join {
    pub send: usize,
    pub recv: Option<usize>,
    pub from: u64,
    pub to: u64,
    pub udp: bool,
}

pub struct Chart {
    pub lanes: Vec<Lane>,
    pub events: Vec<Event>,
    pub joins: Vec<Join>,
}

/// Where a record came from: its trace and its index there.
type At = (usize, usize);

impl Chart {
    pub fn new(traces: Vec<Trace>) -> Chart {
        let origin = traces.iter().map(|t| t.start_unix_us).min().unwrap_or(0);
        let mut lanes = Vec::new();
        let mut events = Vec::new();
        let mut index: BTreeMap<At, usize> = BTreeMap::new();
        for (ti, trace) in traces.iter().enumerate() {
            // One lane per TCP connection when there are several (a server's clients), else one.
            let conns: Vec<&str> = {
                let mut seen: Vec<&str> = Vec::new();
                for r in &trace.records {
                    if r.conn.starts_with('t') && !seen.contains(&r.conn.as_str()) {
                        seen.push(&r.conn);
                    }
                }
                seen
            };
            let first = lanes.len();
            if conns.len() > 1 {
                for c in &conns {
                    let peer = trace
                        .records
                        .iter()
                        .find(|r| r.conn == *c && r.get("peer").is_some())
                        .and_then(|r| r.get("peer"))
                        .unwrap_or("?");
                    lanes.push(Lane {
                        label: format!("{} · {peer}", trace.program),
                    });
                }
            } else {
                lanes.push(Lane {
                    label: trace.program.clone(),
                });
            }
            for (ri, r) in trace.records.iter().enumerate() {
                let lane = first
                    + conns
                        .iter()
                        .position(|c| *c == r.conn)
                        .filter(|_| conns.len() > 1)
                        .unwrap_or(0);
                index.insert((ti, ri), events.len());
                events.push(Event {
                    lane,
                    t_us: trace.start_unix_us.saturating_sub(origin) + r.t_us,
                    row: 0,
                    call: r.call.clone(),
                    label: label(r),
                });
            }
        }
        let mut joins = Vec::new();
        join_streams(&traces, &index, &mut joins);
        join_datagrams(&traces, &index, &mut joins);
        let mut chart = Chart {
            lanes,
            events,
            joins,
        };
        chart.order();
        chart
    }

    /// Rows by time, with cause before effect: a recv is drawn below the sends it read (the
    /// two clocks are read a moment apart), and each lane keeps its own order.
    fn order(&mut self) {
        let mut key: Vec<u64> = self.events.iter().map(|e| e.t_us).collect();
        for _ in 0..20 {
            let mut changed = false;
            for j in &self.joins {
                if let Some(r) = j.recv {
                    if key[r] <= key[j.send] {
                        key[r] = key[j.send] + 1;
                        changed = true;
                    }
                }
            }
            let mut last: BTreeMap<usize, u64> = BTreeMap::new();
            for (i, e) in self.events.iter().enumerate() {
                if let Some(&prev) = last.get(&e.lane) {
                    if key[i] < prev {
                        key[i] = prev;
                        changed = true;
                    }
                }
                last.insert(e.lane, key[i]);
            }
            if !changed {
                break;
            }
        }
        let mut order: Vec<usize> = (0..self.events.len()).collect();
        order.sort_by_key(|&i| (key[i], i));
        for (row, i) in order.into_iter().enumerate() {
            self.events[i].row = row;
        }
    }
}

/// A mark's label: the `--trace` line without the peer in brackets (the lane says it), cut.
fn label(r: &Record) -> String {
    let line = r.get("line").unwrap_or(&r.call);
    let line = match line.strip_prefix('[') {
        Some(rest) => rest.split_once("] ").map_or(line, |(_, l)| l),
        None => line,
    };
    cut(line, 52)
}

/// At most `max` characters, marked `…` when cut, never in the middle of an escape.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut end = text.char_indices().nth(max).map_or(text.len(), |(i, _)| i);
    // Back off to before a `\x..` or `\u{...}` the cut would break.
    if let Some(slash) = text[..end].rfind('\\') {
        if end - slash < 10 && !text[slash..end].contains('"') {
            end = slash;
        }
    }
    format!("{}…", &text[..end])
}

/// TCP: a client's connection is the server's when its `local` is the other's `peer` and the
/// other way round; each send's byte range is joined to each overlapping recv of the peer.
fn join_streams(traces: &[Trace], index: &BTreeMap<At, usize>, joins: &mut Vec<Join>) {
    // (trace, conn) -> (local, peer), from the connect or accept record.
    let mut ends: Vec<(usize, &str, &str, &str)> = Vec::new();
    for (ti, t) in traces.iter().enumerate() {
        for r in &t.records {
            if r.conn.starts_with('t') && (r.call == "connect" || r.call == "accept") {
                if let (Some(l), Some(p)) = (r.get("local"), r.get("peer")) {
                    ends.push((ti, &r.conn, l, p));
                }
            }
        }
    }
    for &(ta, ca, la, pa) in &ends {
        for &(tb, cb, lb, pb) in &ends {
            if (ta, ca) == (tb, cb) || la != pb || pa != lb {
                continue;
            }
            // Bytes a sent on its connection, read by b.
            let ranges = |ti: usize, conn: &str, way: &str| -> Vec<(u64, u64, usize)> {
                traces[ti]
                    .records
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| {
                        r.conn == conn
                            && (r.call == way || (r.call == "bulk" && r.get("dir") == Some(way)))
                    })
                    .filter_map(|(ri, r)| {
                        let (at, n) = (r.num("at")?, r.num("n")?);
                        (n > 0).then_some((at, at + n, index[&(ti, ri)]))
                    })
                    .collect()
            };
            let sends = ranges(ta, ca, "send");
            let recvs = ranges(tb, cb, "recv");
            let (mut i, mut j) = (0, 0);
            while i < sends.len() && j < recvs.len() {
                let (s0, s1, se) = sends[i];
                let (r0, r1, re) = recvs[j];
                let (from, to) = (s0.max(r0), s1.min(r1));
                if from < to {
                    joins.push(Join {
                        send: se,
                        recv: Some(re),
                        from,
                        to,
                        udp: false,
                    });
                }
                if s1 <= r1 {
                    i += 1;
                } else {
                    j += 1;
                }
            }
            // Bytes sent that no recv read (the peer closed first): drawn as lost.
            let read_up_to = recvs.last().map_or(0, |r| r.1);
            for &(s0, s1, se) in &sends {
                if s1 > read_up_to {
                    joins.push(Join {
                        send: se,
                        recv: None,
                        from: s0.max(read_up_to),
                        to: s1,
                        udp: false,
                    });
                }
            }
        }
    }
}

/// UDP: each sendto is joined to the first recvfrom not yet joined, on a socket bound to its
/// destination, from its source, with the same bytes; a sendto without one was lost.
fn join_datagrams(traces: &[Trace], index: &BTreeMap<At, usize>, joins: &mut Vec<Join>) {
    let mut taken = vec![false; index.len()];
    let recvfroms: Vec<(usize, &Record)> = traces
        .iter()
        .enumerate()
        .flat_map(|(ti, t)| {
            t.records
                .iter()
                .enumerate()
                .filter(|(_, r)| r.call == "recvfrom" && r.get("n").is_some())
                .map(move |(ri, r)| (index[&(ti, ri)], r))
        })
        .collect();
    for (ti, t) in traces.iter().enumerate() {
        for (ri, s) in t.records.iter().enumerate() {
            if s.call != "sendto" || s.get("n").is_none() {
                continue;
            }
            let send = index[&(ti, ri)];
            let found = recvfroms.iter().find(|(e, r)| {
                !taken[*e]
                    && same_place(r.get("local"), s.get("to"))
                    && r.get("from") == s.get("local")
                    && r.get("n") == s.get("n")
                    && r.get("data") == s.get("data")
            });
            let n = s.num("n").unwrap_or(0);
            let recv = found.map(|(e, _)| *e);
            if let Some(e) = recv {
                taken[e] = true;
            }
            joins.push(Join {
                send,
                recv,
                from: 0,
                to: n,
                udp: true,
            });
        }
    }
}

/// A socket bound to `bound` receives what is sent to `to`: the same port, and the same
/// address or a wildcard one.
fn same_place(bound: Option<&str>, to: Option<&str>) -> bool {
    let (Some(bound), Some(to)) = (bound, to) else {
        return false;
    };
    if bound == to {
        return true;
    }
    let split = |a: &str| {
        a.rsplit_once(':')
            .map(|(h, p)| (h.to_string(), p.to_string()))
    };
    match (split(bound), split(to)) {
        (Some((bh, bp)), Some((_, tp))) => bp == tp && (bh == "0.0.0.0" || bh == "[::]"),
        _ => false,
    }
}
