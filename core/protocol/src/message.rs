//! Messages: what travels, framed, over the two GATT characteristics.
//!
//! Every message starts with the protocol version (2) and a type byte. Sealed
//! envelopes travel inside messages as opaque bytes.

use super::wire::{DecodeError, Reader, Writer};

/// The protocol version every message starts with.
pub const PROTOCOL_VERSION: u8 = 2;
/// Most sealed envelopes in one `Jobs` or `Receipts` message.
pub const MAX_BATCH: usize = 32;

const TYPE_STATUS_REQUEST: u8 = 0x01;
const TYPE_JOBS: u8 = 0x02;
const TYPE_STATUS: u8 = 0x81;
const TYPE_RECEIPTS: u8 = 0x82;
const TYPE_ERROR: u8 = 0xe0;

/// Errors a lock reports without a seal, when it cannot even read the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum ErrorCode {
    /// Frames could not be reassembled.
    MalformedFrame,
    /// The message could not be decoded.
    MalformedMessage,
    /// A job failed authentication: altered, or sealed for another key.
    BadSeal,
    /// A job is addressed to another lock.
    WrongLock,
    /// The lock is busy (a keypad entry or another connection).
    Busy,
    /// The message is too large for the lock.
    TooLarge,
    /// The protocol version is not supported.
    UnsupportedVersion,
    /// A job for a session the lock does not hold: the link dropped since the
    /// status that opened it, the session expired, or the job was sealed for
    /// another visit. Nothing changed; a new visit starts over.
    NoSession,
}

impl ErrorCode {
    const ALL: [ErrorCode; 8] = [
        Self::MalformedFrame,
        Self::MalformedMessage,
        Self::BadSeal,
        Self::WrongLock,
        Self::Busy,
        Self::TooLarge,
        Self::UnsupportedVersion,
        Self::NoSession,
    ];

    /// The wire byte.
    pub fn byte(self) -> u8 {
        match self {
            Self::MalformedFrame => 1,
            Self::MalformedMessage => 2,
            Self::BadSeal => 3,
            Self::WrongLock => 4,
            Self::Busy => 5,
            Self::TooLarge => 6,
            Self::UnsupportedVersion => 7,
            Self::NoSession => 8,
        }
    }

    /// The stable machine code.
    pub fn code(self) -> &'static str {
        match self {
            Self::MalformedFrame => "malformed_frame",
            Self::MalformedMessage => "malformed_message",
            Self::BadSeal => "bad_seal",
            Self::WrongLock => "wrong_lock",
            Self::Busy => "busy",
            Self::TooLarge => "too_large",
            Self::UnsupportedVersion => "unsupported_version",
            Self::NoSession => "no_session",
        }
    }
}

/// One protocol message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Phone to lock: "where are you?" The lock answers with a sealed `Status`
    /// echoing `challenge`, with audit events after `since_seq`, and opens a
    /// new session for jobs.
    StatusRequest {
        /// The server's single-use challenge the sealed answer must echo, so
        /// the server can tell a fresh status from a replayed one.
        challenge: [u8; 16],
        /// Audit events with a higher sequence number are wanted.
        since_seq: u32,
    },
    /// Phone to lock: sealed jobs, applied in order.
    Jobs(Vec<Vec<u8>>),
    /// Lock to phone: a sealed status receipt.
    Status(Vec<u8>),
    /// Lock to phone: one sealed receipt per job, in order.
    Receipts(Vec<Vec<u8>>),
    /// Lock to phone: the request could not be read.
    Error(ErrorCode),
}

impl Message {
    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![PROTOCOL_VERSION];
        match self {
            Self::StatusRequest {
                challenge,
                since_seq,
            } => {
                out.put_u8(TYPE_STATUS_REQUEST);
                out.extend_from_slice(challenge);
                out.put_u32(*since_seq);
            }
            Self::Jobs(envelopes) => encode_batch(TYPE_JOBS, envelopes, &mut out),
            Self::Status(envelope) => {
                out.put_u8(TYPE_STATUS);
                out.extend_from_slice(envelope);
            }
            Self::Receipts(envelopes) => encode_batch(TYPE_RECEIPTS, envelopes, &mut out),
            Self::Error(code) => {
                out.put_u8(TYPE_ERROR);
                out.put_u8(code.byte());
            }
        }
        out
    }

    /// Decodes a message; any bytes give a value or an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("protocol_version")?;
        if version != PROTOCOL_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                what: "protocol",
                version,
            });
        }
        let message = match r.u8("message_type")? {
            TYPE_STATUS_REQUEST => Self::StatusRequest {
                challenge: r.array("challenge")?,
                since_seq: r.u32("since_seq")?,
            },
            TYPE_JOBS => Self::Jobs(decode_batch(&mut r)?),
            TYPE_STATUS => Self::Status(r.rest().to_vec()),
            TYPE_RECEIPTS => Self::Receipts(decode_batch(&mut r)?),
            TYPE_ERROR => {
                let byte = r.u8("error_code")?;
                Self::Error(
                    ErrorCode::ALL
                        .into_iter()
                        .find(|c| c.byte() == byte)
                        .ok_or_else(|| {
                            DecodeError::invalid("error_code", format!("unknown {byte}"))
                        })?,
                )
            }
            other => {
                return Err(DecodeError::invalid(
                    "message_type",
                    format!("unknown {other:#04x}"),
                ));
            }
        };
        r.finish()?;
        Ok(message)
    }
}

fn encode_batch(kind: u8, envelopes: &[Vec<u8>], out: &mut Vec<u8>) {
    out.put_u8(kind);
    out.put_u8(envelopes.len() as u8);
    for envelope in envelopes {
        out.put_u16(envelope.len() as u16);
        out.extend_from_slice(envelope);
    }
}

fn decode_batch(r: &mut Reader<'_>) -> Result<Vec<Vec<u8>>, DecodeError> {
    let count = usize::from(r.u8("count")?);
    if count == 0 || count > MAX_BATCH {
        return Err(DecodeError::invalid(
            "count",
            format!("{count} is not 1-{MAX_BATCH}"),
        ));
    }
    (0..count)
        .map(|_| {
            let len = usize::from(r.u16("envelope_length")?);
            Ok(r.take(len, "envelope")?.to_vec())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let cases = [
            Message::StatusRequest {
                challenge: [3; 16],
                since_seq: 9,
            },
            Message::Jobs(vec![vec![1, 2, 3], vec![4]]),
            Message::Status(vec![5; 40]),
            Message::Receipts(vec![vec![6; 10]]),
            Message::Error(ErrorCode::BadSeal),
        ];
        for message in cases {
            assert_eq!(Message::decode(&message.encode()).unwrap(), message);
        }
    }

    #[test]
    fn bad_messages_say_what_is_wrong() {
        assert_eq!(Message::decode(&[]).unwrap_err().code(), "truncated");
        assert_eq!(
            Message::decode(&[1, 1]).unwrap_err().code(),
            "unsupported_version"
        );
        assert_eq!(
            Message::decode(&[PROTOCOL_VERSION, 0x55])
                .unwrap_err()
                .code(),
            "invalid_field"
        );
        assert_eq!(
            Message::decode(&[PROTOCOL_VERSION, TYPE_JOBS, 0])
                .unwrap_err()
                .code(),
            "invalid_field"
        );
        assert_eq!(
            Message::decode(&[PROTOCOL_VERSION, TYPE_JOBS, 1, 5, 0, 1])
                .unwrap_err()
                .code(),
            "truncated"
        );
        assert_eq!(
            Message::decode(&[PROTOCOL_VERSION, TYPE_ERROR, 1, 0])
                .unwrap_err()
                .code(),
            "trailing_bytes"
        );
    }
}
