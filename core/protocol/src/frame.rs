//! Framing: a message split into GATT writes or notifications that fit the
//! negotiated MTU, and put back together on the other side.
//!
//! Every frame starts with one header byte: bit 7 marks the first frame of a
//! message, bit 6 the last, bits 0-5 count frames modulo 64. The first frame
//! then carries the message length (u16, little-endian). A frame is at most
//! `mtu - 3` bytes (the ATT header takes three).

use std::fmt;

/// Bytes of every ATT packet taken by its header.
pub const ATT_HEADER_LEN: usize = 3;
/// The smallest MTU BLE allows, and the default before negotiation.
pub const MIN_MTU: usize = 23;
/// The largest message a lock reassembles.
pub const MAX_MESSAGE_LEN: usize = u16::MAX as usize;

const FIRST: u8 = 0x80;
const LAST: u8 = 0x40;
const SEQ_MASK: u8 = 0x3f;

/// Why a frame could not be taken in. The reassembler is reset afterwards.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A frame with no header byte.
    #[error("empty frame")]
    Empty,
    /// A continuation frame arrived with no message started.
    #[error("a continuation frame arrived with no message started")]
    NoMessageStarted,
    /// A frame arrived out of order (one was lost or repeated).
    #[error("frame {got} arrived where {expected} was due")]
    OutOfOrder {
        /// The sequence number due.
        expected: u8,
        /// The one that came.
        got: u8,
    },
    /// The first frame is too short to carry the length.
    #[error("the first frame is too short to carry the message length")]
    ShortFirstFrame,
    /// The frames add up to more or less than the announced length.
    #[error("the message was announced as {announced} bytes but {received} arrived")]
    LengthMismatch {
        /// The announced length.
        announced: usize,
        /// What arrived.
        received: usize,
    },
    /// The message is too large to send or to hold.
    #[error("a message of {0} bytes is too large")]
    TooLarge(usize),
    /// The MTU is below the BLE minimum of 23.
    #[error("an MTU of {0} is below the BLE minimum of 23")]
    MtuTooSmall(usize),
}

impl FrameError {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty
            | Self::NoMessageStarted
            | Self::OutOfOrder { .. }
            | Self::ShortFirstFrame => "malformed_frame",
            Self::LengthMismatch { .. } => "length_mismatch",
            Self::TooLarge(_) => "too_large",
            Self::MtuTooSmall(_) => "mtu_too_small",
        }
    }
}

/// Splits `message` into frames for `mtu`.
pub fn split(message: &[u8], mtu: usize) -> Result<Vec<Vec<u8>>, FrameError> {
    if mtu < MIN_MTU {
        return Err(FrameError::MtuTooSmall(mtu));
    }
    if message.len() > MAX_MESSAGE_LEN {
        return Err(FrameError::TooLarge(message.len()));
    }
    let room = mtu.min(512) - ATT_HEADER_LEN - 1;
    let mut frames = Vec::with_capacity(frame_count(message.len(), mtu));
    let first_len = message.len().min(room - 2);
    let mut first = Vec::with_capacity(first_len + 3);
    first.push(FIRST);
    first.extend_from_slice(&(message.len() as u16).to_le_bytes());
    first.extend_from_slice(&message[..first_len]);
    frames.push(first);
    for (i, chunk) in message[first_len..].chunks(room).enumerate() {
        let mut frame = Vec::with_capacity(chunk.len() + 1);
        frame.push(((i + 1) as u8) & SEQ_MASK);
        frame.extend_from_slice(chunk);
        frames.push(frame);
    }
    if let Some(last) = frames.last_mut() {
        last[0] |= LAST;
    }
    Ok(frames)
}

/// How many frames a message of `len` bytes takes at `mtu` (no error checks).
pub fn frame_count(len: usize, mtu: usize) -> usize {
    let room = mtu.clamp(MIN_MTU, 512) - ATT_HEADER_LEN - 1;
    let first = len.min(room - 2);
    1 + (len - first).div_ceil(room)
}

/// Puts frames back together into messages.
#[derive(Default)]
pub struct Reassembler {
    buffer: Vec<u8>,
    announced: usize,
    next_seq: u8,
    started: bool,
}

impl fmt::Debug for Reassembler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reassembler")
            .field("buffered", &self.buffer.len())
            .field("announced", &self.announced)
            .field("started", &self.started)
            .finish()
    }
}

impl Reassembler {
    /// An empty reassembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether part of a message has arrived.
    pub fn is_mid_message(&self) -> bool {
        self.started
    }

    /// Forgets any partial message (after a disconnect).
    pub fn reset(&mut self) {
        self.buffer.clear();
        self.started = false;
    }

    /// Takes in one frame; returns a message when its last frame arrives. A
    /// new first frame discards a partial message (the sender started over).
    pub fn push(&mut self, frame: &[u8]) -> Result<Option<Vec<u8>>, FrameError> {
        let result = self.take(frame);
        if result.is_err() {
            self.reset();
        }
        result
    }

    fn take(&mut self, frame: &[u8]) -> Result<Option<Vec<u8>>, FrameError> {
        let (&header, body) = frame.split_first().ok_or(FrameError::Empty)?;
        let seq = header & SEQ_MASK;
        let body = if header & FIRST != 0 {
            if seq != 0 {
                return Err(FrameError::OutOfOrder {
                    expected: 0,
                    got: seq,
                });
            }
            let (len, rest) = body
                .split_at_checked(2)
                .ok_or(FrameError::ShortFirstFrame)?;
            self.buffer.clear();
            self.announced = usize::from(u16::from_le_bytes([len[0], len[1]]));
            self.started = true;
            self.next_seq = 0;
            rest
        } else {
            if !self.started {
                return Err(FrameError::NoMessageStarted);
            }
            if seq != self.next_seq {
                return Err(FrameError::OutOfOrder {
                    expected: self.next_seq,
                    got: seq,
                });
            }
            body
        };
        self.next_seq = (seq + 1) & SEQ_MASK;
        if self.buffer.len() + body.len() > self.announced {
            return Err(FrameError::LengthMismatch {
                announced: self.announced,
                received: self.buffer.len() + body.len(),
            });
        }
        self.buffer.extend_from_slice(body);
        if header & LAST == 0 {
            return Ok(None);
        }
        if self.buffer.len() != self.announced {
            return Err(FrameError::LengthMismatch {
                announced: self.announced,
                received: self.buffer.len(),
            });
        }
        self.started = false;
        Ok(Some(std::mem::take(&mut self.buffer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn frames_fit_the_mtu_and_reassemble() {
        for mtu in [23, 24, 100, 185, 247, 517] {
            for len in [0, 1, 16, 17, 18, 19, 20, 200, 5000, MAX_MESSAGE_LEN] {
                let msg = message(len);
                let frames = split(&msg, mtu).unwrap();
                assert_eq!(frames.len(), frame_count(len, mtu), "mtu {mtu} len {len}");
                assert!(
                    frames
                        .iter()
                        .all(|f| f.len() <= mtu.min(512) - ATT_HEADER_LEN)
                );
                let mut r = Reassembler::new();
                let (last, init) = frames.split_last().unwrap();
                for f in init {
                    assert_eq!(r.push(f).unwrap(), None);
                }
                assert_eq!(r.push(last).unwrap().unwrap(), msg);
                assert!(!r.is_mid_message());
            }
        }
    }

    #[test]
    fn a_lost_or_repeated_frame_is_detected() {
        let frames = split(&message(100), 23).unwrap();
        let mut r = Reassembler::new();
        r.push(&frames[0]).unwrap();
        assert_eq!(
            r.push(&frames[2]),
            Err(FrameError::OutOfOrder {
                expected: 1,
                got: 2
            })
        );
        // The reassembler was reset: a continuation now has no message.
        assert_eq!(r.push(&frames[1]), Err(FrameError::NoMessageStarted));
    }

    #[test]
    fn a_new_first_frame_starts_over() {
        let a = split(&message(60), 23).unwrap();
        let b = split(&message(30), 23).unwrap();
        let mut r = Reassembler::new();
        r.push(&a[0]).unwrap();
        r.push(&a[1]).unwrap();
        let mut out = None;
        for f in &b {
            out = r.push(f).unwrap();
        }
        assert_eq!(out.unwrap(), message(30));
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let mut r = Reassembler::new();
        assert_eq!(r.push(&[]), Err(FrameError::Empty));
        assert_eq!(r.push(&[FIRST | LAST, 5]), Err(FrameError::ShortFirstFrame));
        assert_eq!(
            r.push(&[FIRST | LAST, 5, 0, 1, 2]),
            Err(FrameError::LengthMismatch {
                announced: 5,
                received: 2
            })
        );
        assert_eq!(
            r.push(&[FIRST | LAST, 1, 0, 1, 2]),
            Err(FrameError::LengthMismatch {
                announced: 1,
                received: 2
            })
        );
        assert_eq!(split(&[0; 10], 22), Err(FrameError::MtuTooSmall(22)));
        assert_eq!(
            split(&vec![0; MAX_MESSAGE_LEN + 1], 23),
            Err(FrameError::TooLarge(MAX_MESSAGE_LEN + 1))
        );
    }

    #[test]
    fn sequence_numbers_wrap_after_64_frames() {
        let msg = message(19 * 70);
        let frames = split(&msg, 23).unwrap();
        assert!(frames.len() > 64);
        let mut r = Reassembler::new();
        let got = frames
            .iter()
            .filter_map(|f| r.push(f).unwrap())
            .next()
            .unwrap();
        assert_eq!(got, msg);
    }
}
