use crate::config::{SslMode, SslNegotiation};
use crate::tls::TlsConnect;
use crate::{Error, connect_tls};
use bytes::BytesMut;
use postgres_protocol::message::frontend;
use std::io::ErrorKind;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub async fn cancel_query_raw<S, T>(
    stream: S,
    mode: SslMode,
    negotiation: SslNegotiation,
    tls: T,
    has_hostname: bool,
    process_id: i32,
    secret_key: i32,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: TlsConnect<S>,
{
    let mut stream = connect_tls::connect_tls(stream, mode, negotiation, tls, has_hostname).await?;

    let mut buf = BytesMut::new();
    frontend::cancel_request(process_id, secret_key, &mut buf);

    stream.write_all(&buf).await.map_err(Error::io)?;
    stream.flush().await.map_err(Error::io)?;

    // pgwarden fork: wait for the server to close the cancel connection, as libpq's PQcancel does.
    // The server signals the backend before it closes, so once this returns the signal is
    // pending and the backend takes it before it can read the connection's next statement (a
    // cancel that finds it reading a command is ignored). Returning at once let a late signal
    // cancel the next statement on the connection. No half-close first (upstream shut the write
    // side down): a proxy that closes both ways on the client's FIN would answer with an EOF
    // before the server had signalled anything.
    let mut sink = [0u8; 64];
    loop {
        match stream.read(&mut sink).await {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            // Over TLS the server closes without a close_notify; a reset is a close too.
            Err(e) if matches!(e.kind(), ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset) => return Ok(()),
            Err(e) => return Err(Error::io(e)),
        }
    }
}
