//! A static test helper that runs inside containers whatever their image
//! holds (tests compile it with `rustc -C target-feature=+crt-static`,
//! see common::static_helper): the two ends of a TCP connection.
//!
//!   netcheck listen PORT [N]   accept N connections (default 1), send each
//!                              "hello from HOSTNAME\n", then exit
//!   netcheck connect IP PORT   print what the listener sends (5 s timeout)

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let code = match args.get(1).map(String::as_str) {
        Some("listen") => listen(&args[2], args.get(3).map_or(1, |n| n.parse().unwrap_or(1))),
        Some("connect") => connect(&args[2], &args[3]),
        _ => Err("usage: netcheck listen PORT [N] | connect IP PORT".to_string()),
    };
    if let Err(e) = code {
        eprintln!("netcheck: {e}");
        std::process::exit(1);
    }
}

fn listen(port: &str, n: usize) -> Result<(), String> {
    let l = TcpListener::bind(format!("0.0.0.0:{port}")).map_err(|e| format!("bind: {e}"))?;
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    println!("listening on {port}");
    for _ in 0..n {
        let (mut s, _) = l.accept().map_err(|e| format!("accept: {e}"))?;
        let _ = s.write_all(format!("hello from {}\n", name.trim()).as_bytes());
    }
    Ok(())
}

fn connect(ip: &str, port: &str) -> Result<(), String> {
    let addr: SocketAddr = format!("{ip}:{port}").parse().map_err(|e| format!("{e}"))?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut text = String::new();
    s.read_to_string(&mut text).map_err(|e| format!("read: {e}"))?;
    print!("{text}");
    Ok(())
}
