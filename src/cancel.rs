//! Cancel requests: how a running statement is stopped on the server, and how long the pool
//! waits for that to be confirmed.

use std::time::Duration;
use tokio_postgres::{CancelToken, Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How long a cancel request, and the stopped statement's answer after it, may take before the
/// outcome is called unknown and the connection closed.
pub(crate) const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// Sends cancel requests for one connection, over TLS when the connection uses it (a server
/// that only accepts TLS rejects a plain cancel request).
pub(crate) struct Canceller {
    token: CancelToken,
    tls: Option<MakeRustlsConnect>,
}

/// What stops a running statement on the server (a [`Canceller`], or a test's).
pub(crate) trait Cancel: Send + Sync + 'static {
    /// Asks the server to cancel whatever the connection is running (see [`Canceller::cancel`]).
    fn cancel(&self) -> impl std::future::Future<Output = Result<(), String>> + Send;
}

impl Cancel for Canceller {
    fn cancel(&self) -> impl std::future::Future<Output = Result<(), String>> + Send {
        Canceller::cancel(self)
    }
}

impl Canceller {
    /// Asks the server to cancel whatever this connection is running, giving up after the
    /// cancel grace (a network cut can swallow the request or its TLS handshake). Success means
    /// the server closed the cancel connection, which it does after signalling the backend (so
    /// the signal cannot reach a statement sent after this returns); it does not mean anything
    /// was cancelled. An error means that was not seen: the signal may still come.
    pub(crate) async fn cancel(&self) -> Result<(), String> {
        let request = async {
            match &self.tls {
                None => self.token.cancel_query(NoTls).await,
                Some(tls) => self.token.cancel_query(tls.clone()).await,
            }
        };
        match tokio::time::timeout(CANCEL_GRACE, request).await {
            Ok(sent) => sent.map_err(|e| e.to_string()),
            Err(_) => Err("no answer within the cancel grace".into()),
        }
    }
}

impl Canceller {
    /// The canceller of `client`'s connection (`tls`: the connection's, if it uses TLS).
    pub(crate) fn new(client: &Client, tls: Option<MakeRustlsConnect>) -> Self {
        Canceller { token: client.cancel_token(), tls }
    }
}
