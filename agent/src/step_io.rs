//! Between `srun` and the nodes running a step's tasks: one TCP
//! connection per node, opened by the node's task launcher to the address
//! `srun` listens on. The node speaks first ([`Hello`], with the step's
//! secret); then it sends its tasks' output and exits, and `srun` sends
//! signals to forward. When the connection ends before the tasks do, the
//! launcher ends them: a step lives only as long as its `srun`.
//!
//! A frame is a kind byte, the task number (big-endian u32), the payload's
//! length (big-endian u32, at most [`FRAME_PAYLOAD_MAX`]) and the payload.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

/// The largest payload a frame may carry; output is sent in pieces.
pub const FRAME_PAYLOAD_MAX: usize = 64 * 1024;

/// What a node says first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The step's secret, which `srun` gave the controller.
    pub key: String,
    pub job_id: u32,
    pub step_id: u32,
    pub node: String,
    pub first_task: u32,
    pub tasks: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    Hello(Hello),
    Stdout {
        task: u32,
        data: Vec<u8>,
    },
    Stderr {
        task: u32,
        data: Vec<u8>,
    },
    /// The task ended: its exit code, or the signal that ended it.
    Exit {
        task: u32,
        code: u8,
        signal: u8,
    },
    /// The task could not start; the message says why (Slurm's
    /// `slurmstepd: error: ...` line).
    Failed {
        task: u32,
        message: String,
    },
    /// From `srun`: deliver this signal to every task.
    Signal {
        signal: u8,
    },
}

const HELLO: u8 = 1;
const STDOUT: u8 = 2;
const STDERR: u8 = 3;
const EXIT: u8 = 4;
const FAILED: u8 = 5;
const SIGNAL: u8 = 6;

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

impl Frame {
    pub fn write_to(&self, writer: &mut impl Write) -> io::Result<()> {
        let (kind, task, payload): (u8, u32, Vec<u8>) = match self {
            Frame::Hello(hello) => (
                HELLO,
                0,
                serde_json::to_vec(hello).map_err(|e| invalid(e.to_string()))?,
            ),
            Frame::Stdout { task, data } => (STDOUT, *task, data.clone()),
            Frame::Stderr { task, data } => (STDERR, *task, data.clone()),
            Frame::Exit { task, code, signal } => (EXIT, *task, vec![*code, *signal]),
            Frame::Failed { task, message } => (FAILED, *task, message.as_bytes().to_vec()),
            Frame::Signal { signal } => (SIGNAL, 0, vec![*signal]),
        };
        if payload.len() > FRAME_PAYLOAD_MAX {
            return Err(invalid(format!(
                "a frame of {} bytes is over the limit of {FRAME_PAYLOAD_MAX}",
                payload.len()
            )));
        }
        let mut bytes = Vec::with_capacity(9 + payload.len());
        bytes.push(kind);
        bytes.extend_from_slice(&task.to_be_bytes());
        bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&payload);
        writer.write_all(&bytes)?;
        writer.flush()
    }

    /// The next frame; `Ok(None)` when the connection ended between frames.
    pub fn read_from(reader: &mut impl Read) -> io::Result<Option<Frame>> {
        let mut header = [0u8; 9];
        let mut filled = 0;
        while filled < header.len() {
            match reader.read(&mut header[filled..]) {
                Ok(0) if filled == 0 => return Ok(None),
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let kind = header[0];
        let task = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let length = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) as usize;
        if length > FRAME_PAYLOAD_MAX {
            return Err(invalid(format!(
                "a frame announces {length} bytes, over the limit of {FRAME_PAYLOAD_MAX}"
            )));
        }
        let mut payload = vec![0u8; length];
        reader.read_exact(&mut payload)?;
        let two = |payload: &[u8]| -> io::Result<(u8, u8)> {
            match payload {
                [a, b] => Ok((*a, *b)),
                _ => Err(invalid(format!("an exit frame of {} bytes", payload.len()))),
            }
        };
        Ok(Some(match kind {
            HELLO => Frame::Hello(
                serde_json::from_slice(&payload)
                    .map_err(|e| invalid(format!("a malformed hello: {e}")))?,
            ),
            STDOUT => Frame::Stdout {
                task,
                data: payload,
            },
            STDERR => Frame::Stderr {
                task,
                data: payload,
            },
            EXIT => {
                let (code, signal) = two(&payload)?;
                Frame::Exit { task, code, signal }
            }
            FAILED => Frame::Failed {
                task,
                message: String::from_utf8_lossy(&payload).into_owned(),
            },
            SIGNAL => match payload.as_slice() {
                [signal] => Frame::Signal { signal: *signal },
                _ => return Err(invalid("a signal frame without one byte".to_string())),
            },
            other => return Err(invalid(format!("unknown frame kind {other}"))),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let frames = [
            Frame::Hello(Hello {
                key: "secret".into(),
                job_id: 4,
                step_id: 0,
                node: "n1".into(),
                first_task: 2,
                tasks: 2,
            }),
            Frame::Stdout {
                task: 3,
                data: b"hello\n".to_vec(),
            },
            Frame::Stderr {
                task: 2,
                data: vec![0, 255],
            },
            Frame::Exit {
                task: 3,
                code: 0,
                signal: 9,
            },
            Frame::Failed {
                task: 2,
                message: "no such file".into(),
            },
            Frame::Signal { signal: 15 },
        ];
        let mut bytes = Vec::new();
        for frame in &frames {
            frame.write_to(&mut bytes).unwrap();
        }
        let mut reader = bytes.as_slice();
        for frame in &frames {
            assert_eq!(Frame::read_from(&mut reader).unwrap().as_ref(), Some(frame));
        }
        assert_eq!(Frame::read_from(&mut reader).unwrap(), None);
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        let cases: &[&[u8]] = &[
            &[9, 0, 0, 0, 0, 0, 0, 0, 0],             // unknown kind
            &[4, 0, 0, 0, 0, 0, 0, 0, 1, 7],          // short exit
            &[2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff], // too long
            &[1, 0, 0, 0, 0, 0, 0, 0, 2, b'{', b'x'], // bad hello
            &[2, 0, 0],                               // cut header
            &[2, 0, 0, 0, 0, 0, 0, 0, 5, b'a'],       // cut payload
        ];
        for case in cases {
            let mut reader = *case;
            assert!(Frame::read_from(&mut reader).is_err(), "{case:?}");
        }
        let too_big = Frame::Stdout {
            task: 0,
            data: vec![0; FRAME_PAYLOAD_MAX + 1],
        };
        assert!(too_big.write_to(&mut Vec::new()).is_err());
    }
}
