//! The bounds of a server on a network: how many connections (in total and per client address), how
//! long a response may sit unsent (a client that stops reading), and the defaults of every bound.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Every bound of a server, with the defaults the command line shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once; more are closed as soon as they are accepted.
    pub connections: usize,
    /// Connections open at once from one client address.
    pub connections_per_client: usize,
    /// Upload sessions open at once; more are refused with 429.
    pub uploads: usize,
    /// Upload sessions open at once from one client address.
    pub uploads_per_client: usize,
    /// An upload session unused for this long is dropped with its bytes.
    pub upload_idle: Duration,
    /// A connection whose response waits this long for a client that stopped reading, or took less
    /// than 64 KiB in that time, is cut.
    pub send_timeout: Duration,
    /// Threads for slow work (disk reads and writes, hashing, bcrypt); more work waits its turn.
    pub blocking_threads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections: 512,
            connections_per_client: 64,
            uploads: 256,
            uploads_per_client: 32,
            upload_idle: Duration::from_secs(600),
            send_timeout: Duration::from_secs(60),
            blocking_threads: 32,
        }
    }
}

/// Connections open, in total and per client address.
#[derive(Default)]
pub(crate) struct Connections {
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// A connection counted as open until dropped.
pub(crate) struct Admitted {
    conns: Arc<Connections>,
    ip: IpAddr,
}

impl Connections {
    /// Counts a new connection from `ip`, or `None` when a cap is reached.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr, limits: &Limits) -> Option<Admitted> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per) = &mut *open;
        let mine = per.get(&ip).copied().unwrap_or(0);
        if *total >= limits.connections || mine >= limits.connections_per_client {
            return None;
        }
        *total += 1;
        per.insert(ip, mine + 1);
        Some(Admitted {
            conns: self.clone(),
            ip,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.conns.open.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per) = &mut *open;
        *total -= 1;
        if let Some(n) = per.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per.remove(&self.ip);
            }
        }
    }
}

/// Bytes a client must take per send timeout while a response waits for it.
pub(crate) const MIN_PROGRESS: usize = 64 << 10;

/// A connection's stream whose writes fail with `TimedOut` when, once a write has had to wait, the
/// client takes less than [`MIN_PROGRESS`] bytes within `limit`: hyper then drops the connection,
/// and with it the response's buffers. A client that stops reading and one that reads a byte now and
/// then are cut alike; everything written and flushed starts the clock afresh.
pub(crate) struct Stalling<S> {
    inner: S,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
    /// Bytes taken since the clock started.
    progress: usize,
}

impl<S> Stalling<S> {
    pub(crate) fn new(inner: S, limit: Duration) -> Self {
        Stalling {
            inner,
            limit,
            stalled: None,
            progress: 0,
        }
    }

    /// Called when a write could not proceed: starts the clock, or says that time is up.
    fn check(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let limit = self.limit;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took no data for too long",
            )),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The clock starts at the first write that must wait, and stops once the client has taken
    /// [`MIN_PROGRESS`] bytes or everything was flushed.
    fn written(&mut self, n: usize) {
        if self.stalled.is_some() {
            self.progress += n;
            if self.progress >= MIN_PROGRESS {
                self.settled();
            }
        }
    }

    fn settled(&mut self) {
        self.stalled = None;
        self.progress = 0;
    }

    fn track_write(
        &mut self,
        cx: &mut Context<'_>,
        p: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match p {
            Poll::Pending => match self.check(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
            Poll::Ready(Ok(n)) => {
                self.written(n);
                // Still within the time: a trickle does not reset the clock.
                if self.stalled.is_some() {
                    if let Poll::Ready(e) = self.check(cx) {
                        return Poll::Ready(Err(e));
                    }
                }
                Poll::Ready(Ok(n))
            }
            ready => ready,
        }
    }

    fn track_flush(
        &mut self,
        cx: &mut Context<'_>,
        p: Poll<io::Result<()>>,
    ) -> Poll<io::Result<()>> {
        match p {
            Poll::Pending => match self.check(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
            Poll::Ready(Ok(())) => {
                self.settled();
                Poll::Ready(Ok(()))
            }
            ready => ready,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Stalling<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Stalling<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let p = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.track_write(cx, p)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let p = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.track_write(cx, p)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = Pin::new(&mut self.inner).poll_flush(cx);
        self.track_flush(cx, p)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.track_flush(cx, p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn connection_caps() {
        let c = Arc::new(Connections::default());
        let limits = Limits {
            connections: 3,
            connections_per_client: 2,
            ..Limits::default()
        };
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let a1 = c.admit(a, &limits).unwrap();
        let _a2 = c.admit(a, &limits).unwrap();
        assert!(c.admit(a, &limits).is_none(), "per client");
        let _b1 = c.admit(b, &limits).unwrap();
        assert!(c.admit(b, &limits).is_none(), "in total");
        drop(a1);
        assert!(
            c.admit(a, &limits).is_some(),
            "a closed connection frees its place"
        );
    }

    #[tokio::test]
    async fn a_reader_that_stops_reading_times_the_writer_out() {
        let (client, server) = tokio::io::duplex(1024);
        let mut s = Stalling::new(server, Duration::from_millis(200));
        let chunk = vec![0u8; 4096];
        let t = std::time::Instant::now();
        // The client never reads: the duplex buffer fills and the write must time out.
        let err = loop {
            if let Err(e) = s.write_all(&chunk).await {
                break e;
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(t.elapsed() >= Duration::from_millis(200));
        drop(client);
    }

    #[tokio::test]
    async fn a_reader_that_takes_a_byte_now_and_then_is_cut_too() {
        use tokio::io::AsyncReadExt;
        let (mut client, server) = tokio::io::duplex(1024);
        let mut s = Stalling::new(server, Duration::from_millis(300));
        // Reads a few bytes every 20 ms: progress, but far less than the minimum.
        let trickle = tokio::spawn(async move {
            let mut b = [0u8; 8];
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if client.read(&mut b).await.unwrap_or(0) == 0 {
                    break;
                }
            }
        });
        let chunk = vec![0u8; 4096];
        let err = loop {
            if let Err(e) = s.write_all(&chunk).await {
                break e;
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        drop(s);
        trickle.await.unwrap();
    }

    #[tokio::test]
    async fn a_reader_that_keeps_up_is_never_cut() {
        use tokio::io::AsyncReadExt;
        let (mut client, server) = tokio::io::duplex(1024);
        let mut s = Stalling::new(server, Duration::from_millis(300));
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            client.read_to_end(&mut all).await.unwrap();
            all.len()
        });
        let chunk = vec![1u8; 64 << 10];
        for _ in 0..32 {
            s.write_all(&chunk).await.unwrap();
        }
        s.shutdown().await.unwrap();
        drop(s);
        assert_eq!(reader.await.unwrap(), 32 * (64 << 10));
    }
}
