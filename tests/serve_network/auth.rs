//! `--htpasswd` under attack: user names cannot be told apart by timing, and a flood of wrong
//! passwords does not delay a client that authenticates.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::{basic, htpasswd, layout_with};
use crate::support::serve::{get, Serve};

/// bcrypt cost of the test users: slow enough (a quarter second in a debug build) that doing it or
/// not is plain to see.
const COST: u32 = 10;

fn timed_get(addr: &str, auth: &str) -> (u16, Duration) {
    let t = Instant::now();
    let r = get(addr, "/v2/", &[("Authorization", auth)]);
    (r.status, t.elapsed())
}

#[test]
fn an_unknown_user_takes_as_long_as_a_wrong_password() {
    let (tmp, dir, _, _) = layout_with("img:1", &[100]);
    let file = htpasswd(tmp.path(), COST, &[("alice", "right")]);
    let s = Serve::start(&dir, &["--htpasswd", file.to_str().unwrap()]);
    // Two of each (fewer failures than slow a client down).
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..2 {
        let (status, t) = timed_get(&s.addr, &basic("alice", "wrong"));
        assert_eq!(status, 401);
        wrong.push(t);
        let (status, t) = timed_get(&s.addr, &basic("nobody", "wrong"));
        assert_eq!(status, 401);
        unknown.push(t);
    }
    let (wrong, unknown) = (*wrong.iter().min().unwrap(), *unknown.iter().min().unwrap());
    assert!(
        unknown * 3 > wrong,
        "an unknown user answered in {unknown:?}, a wrong password in {wrong:?}"
    );
}

/// Sends `GET /v2/` with `auth` and waits for any answer (or the connection's end); never panics.
fn attempt(addr: &str, auth: &str) {
    let Ok(mut c) = TcpStream::connect(addr) else {
        return;
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(120)));
    let req = format!(
        "GET /v2/ HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
    );
    let _ = c.write_all(req.as_bytes());
    let _ = c.read(&mut [0u8; 64]);
}

#[test]
fn a_flood_of_wrong_passwords_does_not_delay_an_authenticated_client() {
    let (tmp, dir, _, _) = layout_with("img:1", &[100]);
    let file = htpasswd(
        tmp.path(),
        COST,
        &[("alice", "right"), ("mallory", "other")],
    );
    let mut s = Serve::start(&dir, &["--htpasswd", file.to_str().unwrap()]);
    let alice = basic("alice", "right");
    // Alice's first request pays one bcrypt: the yardstick.
    let (status, bcrypt) = timed_get(&s.addr, &alice);
    assert_eq!(status, 200);
    let flood: Vec<_> = (0..16)
        .map(|i| {
            let addr = s.addr.clone();
            let auth = basic(if i % 2 == 0 { "mallory" } else { "eve" }, "guess");
            std::thread::spawn(move || attempt(&addr, &auth))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut times = Vec::new();
    for _ in 0..5 {
        let (status, t) = timed_get(&s.addr, &alice);
        assert_eq!(status, 200);
        times.push(t);
    }
    times.sort();
    let median = times[2];
    assert!(
        median * 2 < bcrypt,
        "under a flood an authenticated request took {median:?}; one bcrypt takes {bcrypt:?}"
    );
    let _ = s.stop();
    for f in flood {
        f.join().unwrap();
    }
}
