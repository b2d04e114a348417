//! Length-prefixed protobuf messages on a byte stream (the agents' QUIC
//! streams): a big-endian `u32` byte count, then the encoded message.

use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest message accepted: a launch carries a whole batch script and
/// environment.
pub const FRAME_BYTES_MAX: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection closed")]
    Closed,
    #[error("message of {0} bytes is larger than the {FRAME_BYTES_MAX}-byte limit")]
    TooLarge(usize),
    #[error("malformed message: {0}")]
    Malformed(#[from] prost::DecodeError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Writes one message.
pub async fn write_frame<W, M>(writer: &mut W, message: &M) -> Result<(), FrameError>
where
    W: AsyncWrite + Unpin,
    M: Message,
{
    let length = message.encoded_len();
    if length > FRAME_BYTES_MAX {
        return Err(FrameError::TooLarge(length));
    }
    let mut buffer = Vec::with_capacity(4 + length);
    buffer.extend_from_slice(&(length as u32).to_be_bytes());
    message.encode(&mut buffer).expect("a Vec grows as needed");
    writer.write_all(&buffer).await?;
    writer.flush().await?;
    Ok(())
}

/// Reads one message; `Closed` when the stream ended cleanly between messages.
pub async fn read_frame<R, M>(reader: &mut R) -> Result<M, FrameError>
where
    R: AsyncRead + Unpin,
    M: Message + Default,
{
    let mut length = [0u8; 4];
    match reader.read_exact(&mut length).await {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(FrameError::Closed)
        }
        Err(error) => return Err(error.into()),
    }
    let length = u32::from_be_bytes(length) as usize;
    if length > FRAME_BYTES_MAX {
        return Err(FrameError::TooLarge(length));
    }
    let mut buffer = vec![0u8; length];
    reader.read_exact(&mut buffer).await?;
    Ok(M::decode(buffer.as_slice())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{agent_message, AgentHeartbeat, AgentMessage};

    #[tokio::test]
    async fn messages_round_trip_and_garbage_is_refused() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let message = AgentMessage {
            body: Some(agent_message::Body::Heartbeat(AgentHeartbeat {})),
        };
        write_frame(&mut a, &message).await.unwrap();
        let read: AgentMessage = read_frame(&mut b).await.unwrap();
        assert_eq!(read, message);

        // A length beyond the limit is refused before anything is allocated.
        a.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
        let error = read_frame::<_, AgentMessage>(&mut b).await.unwrap_err();
        assert!(matches!(error, FrameError::TooLarge(_)), "{error}");

        // Bytes that are not a message are an error, not a panic.
        let (mut a, mut b) = tokio::io::duplex(1024);
        a.write_all(&3u32.to_be_bytes()).await.unwrap();
        a.write_all(&[0xff, 0xff, 0xff]).await.unwrap();
        let error = read_frame::<_, AgentMessage>(&mut b).await.unwrap_err();
        assert!(matches!(error, FrameError::Malformed(_)), "{error}");

        drop(a);
        let error = read_frame::<_, AgentMessage>(&mut b).await.unwrap_err();
        assert!(matches!(error, FrameError::Closed), "{error}");
    }
}
