//! A bound on open client connections (review finding L10): the request guard counts
//! requests in flight, but an idle keep-alive connection, an event stream or a WebSocket
//! holds a socket (and its buffers) without one. Past `server.max_connections`, a new
//! connection is closed as soon as it is accepted — before any TLS handshake or request is
//! read — and counted in `sp_connections_refused_total`; `sp_connections_open` shows how many
//! are open.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The places for open connections, shared by a listener or acceptor.
#[derive(Debug, Clone)]
pub struct ConnectionGate {
    places: Arc<Semaphore>,
}

impl ConnectionGate {
    /// At most `max` connections open at once.
    pub fn new(max: usize) -> Self {
        ConnectionGate {
            places: Arc::new(Semaphore::new(max)),
        }
    }

    /// `stream` holding a place, or `None` (the caller closes it) when every place is taken.
    fn admit<S>(&self, stream: S) -> Option<Gated<S>> {
        match self.places.clone().try_acquire_owned() {
            Ok(place) => {
                metrics::gauge!("sp_connections_open").increment(1.0);
                Some(Gated {
                    stream,
                    _place: Place { _permit: place },
                })
            }
            Err(_) => {
                metrics::counter!("sp_connections_refused_total").increment(1);
                None
            }
        }
    }
}

/// A connection's place, given back (and the gauge lowered) when the connection ends.
#[derive(Debug)]
struct Place {
    _permit: OwnedSemaphorePermit,
}

impl Drop for Place {
    fn drop(&mut self) {
        metrics::gauge!("sp_connections_open").decrement(1.0);
    }
}

/// A stream that holds its place while open.
#[derive(Debug)]
pub struct Gated<S> {
    stream: S,
    _place: Place,
}

impl<S: AsyncRead + Unpin> AsyncRead for Gated<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Gated<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// A TCP listener for `axum::serve` that closes connections past its gate.
#[derive(Debug)]
pub struct GatedListener {
    listener: TcpListener,
    gate: ConnectionGate,
}

impl GatedListener {
    /// `listener` admitting what `gate` has room for.
    pub fn new(listener: TcpListener, gate: ConnectionGate) -> Self {
        GatedListener { listener, gate }
    }
}

impl axum::serve::Listener for GatedListener {
    type Io = Gated<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = axum::serve::Listener::accept(&mut self.listener).await;
            if let Some(gated) = self.gate.admit(stream) {
                return (gated, addr);
            }
            // Dropped: the client sees the connection closed at once.
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// The acceptor under axum-server's TLS acceptor: admits a connection past the gate before
/// its handshake starts, or ends it.
#[derive(Debug, Clone)]
pub struct GatedAcceptor {
    gate: ConnectionGate,
}

impl GatedAcceptor {
    /// Admitting what `gate` has room for.
    pub fn new(gate: ConnectionGate) -> Self {
        GatedAcceptor { gate }
    }
}

impl<I, S> axum_server::accept::Accept<I, S> for GatedAcceptor {
    type Stream = Gated<I>;
    type Service = S;
    type Future = std::future::Ready<io::Result<(Gated<I>, S)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        std::future::ready(match self.gate.admit(stream) {
            Some(gated) => Ok((gated, service)),
            None => Err(io::Error::other("server.max_connections reached")),
        })
    }
}
