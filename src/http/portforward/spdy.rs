//! SPDY/3.1 framing, pure: bytes from a client -> `Frame`s (`Decoder`), `Frame`s -> bytes
//! (`Encoder`). Header blocks travel zlib-compressed, one zlib stream per direction primed
//! with the SPDY/3 dictionary, so each direction keeps its own (de)compressor for the life of
//! the connection. Every length a client sends is checked before anything is allocated for
//! it. No I/O here: the session (`session.rs`) drives it.

use super::dictionary::DICTIONARY;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::fmt;

/// The only protocol version served.
pub const VERSION: u16 = 3;

pub const TYPE_SYN_STREAM: u16 = 1;
pub const TYPE_SYN_REPLY: u16 = 2;
pub const TYPE_RST_STREAM: u16 = 3;
pub const TYPE_SETTINGS: u16 = 4;
pub const TYPE_PING: u16 = 6;
pub const TYPE_GOAWAY: u16 = 7;
pub const TYPE_HEADERS: u16 = 8;
pub const TYPE_WINDOW_UPDATE: u16 = 9;

/// Control and data frames: the last frame on a stream from this side.
pub const FLAG_FIN: u8 = 0x01;
/// SYN_STREAM: the opening side will not receive.
pub const FLAG_UNIDIRECTIONAL: u8 = 0x02;

/// RST_STREAM status codes.
pub const PROTOCOL_ERROR: u32 = 1;
pub const INVALID_STREAM: u32 = 2;
pub const REFUSED_STREAM: u32 = 3;
pub const CANCEL: u32 = 5;
pub const INTERNAL_ERROR: u32 = 6;
pub const FLOW_CONTROL_ERROR: u32 = 7;
pub const STREAM_ALREADY_CLOSED: u32 = 9;

/// GOAWAY status codes.
pub const GOAWAY_OK: u32 = 0;
pub const GOAWAY_PROTOCOL_ERROR: u32 = 1;

/// Header names with their values, in the order sent. Names are lowercase on the wire.
pub type Headers = Vec<(String, Vec<String>)>;

/// The first value of header `name` (names compare exactly: the wire has them lowercase).
pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, values)| values.first())
        .map(String::as_str)
}

/// One SPDY frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    SynStream {
        stream_id: u32,
        associated_to: u32,
        priority: u8,
        flags: u8,
        headers: Headers,
    },
    SynReply {
        stream_id: u32,
        flags: u8,
        headers: Headers,
    },
    RstStream {
        stream_id: u32,
        status: u32,
    },
    /// Settings are read past: nothing here depends on them.
    Settings,
    Ping {
        id: u32,
    },
    GoAway {
        last_good_stream_id: u32,
        status: u32,
    },
    Headers {
        stream_id: u32,
        flags: u8,
        headers: Headers,
    },
    WindowUpdate {
        stream_id: u32,
        delta: u32,
    },
    Data {
        stream_id: u32,
        flags: u8,
        data: Bytes,
    },
    /// A control frame of a type SPDY/3 does not define: the draft says to ignore it.
    Unknown {
        frame_type: u16,
    },
}

/// What is wrong with a client's bytes. Every such error ends the connection (GOAWAY with
/// PROTOCOL_ERROR): the header decompressor's state is shared by all streams, so nothing
/// after a bad frame can be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError(pub String);

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FrameError {}

fn error<T>(message: impl Into<String>) -> Result<T, FrameError> {
    Err(FrameError(message.into()))
}

/// What a decoder accepts from a client.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Largest frame payload (a data frame's bytes, a control frame's body). kubectl's data
    /// frames carry at most 32 KiB.
    pub max_frame: usize,
    /// Largest header block once decompressed; also bounds the decompression of one block.
    pub max_header_block: usize,
    /// Most header names in one block.
    pub max_headers: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_frame: 1024 * 1024,
            max_header_block: 64 * 1024,
            max_headers: 64,
        }
    }
}

/// Bytes from the client -> frames. Feed it with `push`, then take frames with `next_frame`
/// until it returns `Ok(None)` (a partial frame stays buffered, at most one frame's worth).
pub struct Decoder {
    buffer: BytesMut,
    inflate: Decompress,
    limits: DecodeLimits,
}

const HEADER_LEN: usize = 8;

impl Decoder {
    pub fn new(limits: DecodeLimits) -> Decoder {
        Decoder {
            buffer: BytesMut::new(),
            inflate: Decompress::new(true),
            limits,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Bytes received but not yet part of a whole frame.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The next whole frame, `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.buffer.len() < HEADER_LEN {
            return Ok(None);
        }
        let first = u32::from_be_bytes([
            self.buffer[0],
            self.buffer[1],
            self.buffer[2],
            self.buffer[3],
        ]);
        let flags = self.buffer[4];
        let length =
            u32::from_be_bytes([0, self.buffer[5], self.buffer[6], self.buffer[7]]) as usize;
        if length > self.limits.max_frame {
            return error(format!(
                "a frame of {length} bytes is larger than the {} served",
                self.limits.max_frame
            ));
        }
        if self.buffer.len() < HEADER_LEN + length {
            return Ok(None);
        }
        self.buffer.advance(HEADER_LEN);
        let body = self.buffer.split_to(length).freeze();
        if first & 0x8000_0000 == 0 {
            let stream_id = first & 0x7fff_ffff;
            if stream_id == 0 {
                return error("a data frame on stream 0");
            }
            return Ok(Some(Frame::Data {
                stream_id,
                flags,
                data: body,
            }));
        }
        let version = ((first >> 16) & 0x7fff) as u16;
        if version != VERSION {
            return error(format!("SPDY version {version} is not served (only 3)"));
        }
        let frame_type = (first & 0xffff) as u16;
        self.control(frame_type, flags, body).map(Some)
    }

    fn control(
        &mut self,
        frame_type: u16,
        flags: u8,
        mut body: Bytes,
    ) -> Result<Frame, FrameError> {
        let need = |body: &Bytes, n: usize, what: &str| -> Result<(), FrameError> {
            if body.len() < n {
                error(format!(
                    "a {what} frame of {} bytes is too short",
                    body.len()
                ))
            } else {
                Ok(())
            }
        };
        let exactly = |body: &Bytes, n: usize, what: &str| -> Result<(), FrameError> {
            if body.len() != n {
                error(format!("a {what} frame has {} bytes, not {n}", body.len()))
            } else {
                Ok(())
            }
        };
        match frame_type {
            TYPE_SYN_STREAM => {
                need(&body, 10, "SYN_STREAM")?;
                let stream_id = body.get_u32() & 0x7fff_ffff;
                let associated_to = body.get_u32() & 0x7fff_ffff;
                let priority = body.get_u8() >> 5;
                let _slot = body.get_u8();
                let headers = self.header_block(&body)?;
                if stream_id == 0 {
                    return error("SYN_STREAM for stream 0");
                }
                Ok(Frame::SynStream {
                    stream_id,
                    associated_to,
                    priority,
                    flags,
                    headers,
                })
            }
            TYPE_SYN_REPLY | TYPE_HEADERS => {
                let what = if frame_type == TYPE_HEADERS {
                    "HEADERS"
                } else {
                    "SYN_REPLY"
                };
                need(&body, 4, what)?;
                let stream_id = body.get_u32() & 0x7fff_ffff;
                let headers = self.header_block(&body)?;
                if stream_id == 0 {
                    return error(format!("{what} for stream 0"));
                }
                Ok(if frame_type == TYPE_HEADERS {
                    Frame::Headers {
                        stream_id,
                        flags,
                        headers,
                    }
                } else {
                    Frame::SynReply {
                        stream_id,
                        flags,
                        headers,
                    }
                })
            }
            TYPE_RST_STREAM => {
                exactly(&body, 8, "RST_STREAM")?;
                let stream_id = body.get_u32() & 0x7fff_ffff;
                let status = body.get_u32();
                if stream_id == 0 || status == 0 {
                    return error("RST_STREAM for stream 0 or with status 0");
                }
                Ok(Frame::RstStream { stream_id, status })
            }
            TYPE_SETTINGS => {
                need(&body, 4, "SETTINGS")?;
                let count = body.get_u32() as usize;
                if count.checked_mul(8) != Some(body.len()) {
                    return error("a SETTINGS frame whose count does not match its length");
                }
                Ok(Frame::Settings)
            }
            TYPE_PING => {
                exactly(&body, 4, "PING")?;
                Ok(Frame::Ping { id: body.get_u32() })
            }
            TYPE_GOAWAY => {
                exactly(&body, 8, "GOAWAY")?;
                Ok(Frame::GoAway {
                    last_good_stream_id: body.get_u32() & 0x7fff_ffff,
                    status: body.get_u32(),
                })
            }
            TYPE_WINDOW_UPDATE => {
                exactly(&body, 8, "WINDOW_UPDATE")?;
                Ok(Frame::WindowUpdate {
                    stream_id: body.get_u32() & 0x7fff_ffff,
                    delta: body.get_u32() & 0x7fff_ffff,
                })
            }
            other => Ok(Frame::Unknown { frame_type: other }),
        }
    }

    /// Decompress one header block (continuing the connection's zlib stream) and parse it.
    fn header_block(&mut self, compressed: &[u8]) -> Result<Headers, FrameError> {
        let limit = self.limits.max_header_block;
        let mut plain: Vec<u8> = Vec::with_capacity(limit.min(4096));
        let mut consumed = 0;
        while consumed < compressed.len() {
            if plain.len() == plain.capacity() {
                if plain.len() >= limit {
                    return error(format!(
                        "a header block larger than {limit} bytes once decompressed"
                    ));
                }
                plain.reserve_exact((plain.capacity() * 2).min(limit) - plain.len());
            }
            let before_in = self.inflate.total_in();
            let before_out = self.inflate.total_out();
            let result = self.inflate.decompress_vec(
                &compressed[consumed..],
                &mut plain,
                FlushDecompress::Sync,
            );
            consumed += (self.inflate.total_in() - before_in) as usize;
            let progressed =
                self.inflate.total_in() != before_in || self.inflate.total_out() != before_out;
            match result {
                Ok(Status::StreamEnd) => {
                    return error("the client ended its header compression stream");
                }
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.inflate
                        .set_dictionary(DICTIONARY)
                        .map_err(|e| FrameError(format!("priming the header dictionary: {e}")))?;
                    continue;
                }
                Err(e) => return error(format!("a header block does not decompress: {e}")),
            }
            if !progressed && plain.len() < plain.capacity() {
                return error("a header block does not decompress: no progress");
            }
        }
        parse_header_block(&plain, self.limits.max_headers)
    }
}

/// A decompressed header block: a count, then each name and value with a 32-bit length;
/// several values of one name are joined by NUL.
pub fn parse_header_block(mut block: &[u8], max_headers: usize) -> Result<Headers, FrameError> {
    let mut take_u32 = |block: &mut &[u8]| -> Result<u32, FrameError> {
        if block.len() < 4 {
            return error("a header block ends inside a length");
        }
        Ok(block.get_u32())
    };
    let count = take_u32(&mut block)? as usize;
    if count > max_headers {
        return error(format!(
            "a header block of {count} headers (at most {max_headers} are served)"
        ));
    }
    let mut headers: Headers = Vec::with_capacity(count);
    for _ in 0..count {
        let name = take_string(&mut block, &mut take_u32)?;
        if name.is_empty() {
            return error("a header with an empty name");
        }
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            return error(format!("header name {name:?} is not lowercase"));
        }
        if headers.iter().any(|(n, _)| *n == name) {
            return error(format!("header {name:?} appears twice"));
        }
        let value = take_string(&mut block, &mut take_u32)?;
        headers.push((name, value.split('\0').map(str::to_string).collect()));
    }
    if !block.is_empty() {
        return error("bytes after the last header of a block");
    }
    Ok(headers)
}

fn take_string(
    block: &mut &[u8],
    take_u32: &mut impl FnMut(&mut &[u8]) -> Result<u32, FrameError>,
) -> Result<String, FrameError> {
    let len = take_u32(block)? as usize;
    if block.len() < len {
        return error("a header block ends inside a name or value");
    }
    let (text, rest) = block.split_at(len);
    *block = rest;
    String::from_utf8(text.to_vec()).map_err(|_| FrameError("a header that is not UTF-8".into()))
}

/// Frames -> bytes for the client, with this side's header compressor.
pub struct Encoder {
    deflate: Compress,
    primed: bool,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

impl Encoder {
    pub fn new() -> Encoder {
        Encoder {
            deflate: Compress::new(Compression::default(), true),
            primed: false,
        }
    }

    /// Append `frame` to `out`. Frames this side never sends (SETTINGS, unknown types) write
    /// nothing.
    pub fn encode(&mut self, frame: &Frame, out: &mut BytesMut) {
        match frame {
            Frame::Data {
                stream_id,
                flags,
                data,
            } => {
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32(frame_length(*flags, data.len()));
                out.extend_from_slice(data);
            }
            Frame::SynStream {
                stream_id,
                associated_to,
                priority,
                flags,
                headers,
            } => {
                let block = self.compress(headers);
                control_header(out, TYPE_SYN_STREAM, *flags, 10 + block.len());
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32(associated_to & 0x7fff_ffff);
                out.put_u8((priority & 0x07) << 5);
                out.put_u8(0);
                out.extend_from_slice(&block);
            }
            Frame::SynReply {
                stream_id,
                flags,
                headers,
            } => {
                let block = self.compress(headers);
                control_header(out, TYPE_SYN_REPLY, *flags, 4 + block.len());
                out.put_u32(stream_id & 0x7fff_ffff);
                out.extend_from_slice(&block);
            }
            Frame::Headers {
                stream_id,
                flags,
                headers,
            } => {
                let block = self.compress(headers);
                control_header(out, TYPE_HEADERS, *flags, 4 + block.len());
                out.put_u32(stream_id & 0x7fff_ffff);
                out.extend_from_slice(&block);
            }
            Frame::RstStream { stream_id, status } => {
                control_header(out, TYPE_RST_STREAM, 0, 8);
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32(*status);
            }
            Frame::Ping { id } => {
                control_header(out, TYPE_PING, 0, 4);
                out.put_u32(*id);
            }
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => {
                control_header(out, TYPE_GOAWAY, 0, 8);
                out.put_u32(last_good_stream_id & 0x7fff_ffff);
                out.put_u32(*status);
            }
            Frame::WindowUpdate { stream_id, delta } => {
                control_header(out, TYPE_WINDOW_UPDATE, 0, 8);
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32(delta & 0x7fff_ffff);
            }
            Frame::Settings | Frame::Unknown { .. } => {}
        }
    }

    /// The block of `headers`, compressed and sync-flushed so the client can decompress it
    /// alone (its decompressor continues from the previous block).
    fn compress(&mut self, headers: &Headers) -> Vec<u8> {
        let plain = header_block(headers);
        if !self.primed {
            // A fresh compressor accepts its dictionary; nothing else can fail here.
            let _ = self.deflate.set_dictionary(DICTIONARY);
            self.primed = true;
        }
        let mut compressed = Vec::with_capacity(plain.len() + 64);
        let mut consumed = 0;
        loop {
            if compressed.len() == compressed.capacity() {
                compressed.reserve(compressed.capacity().max(64));
            }
            let before = self.deflate.total_in();
            let result =
                self.deflate
                    .compress_vec(&plain[consumed..], &mut compressed, FlushCompress::Sync);
            consumed += (self.deflate.total_in() - before) as usize;
            // A sync flush is complete when it leaves spare room in the output.
            if result.is_err()
                || (consumed == plain.len() && compressed.len() < compressed.capacity())
            {
                break;
            }
        }
        compressed
    }
}

/// The uncompressed header block of `headers` (names lowercased, values joined by NUL).
pub fn header_block(headers: &Headers) -> Vec<u8> {
    let mut block = Vec::new();
    block.put_u32(headers.len() as u32);
    for (name, values) in headers {
        let name = name.to_ascii_lowercase();
        block.put_u32(name.len() as u32);
        block.extend_from_slice(name.as_bytes());
        let value = values.join("\0");
        block.put_u32(value.len() as u32);
        block.extend_from_slice(value.as_bytes());
    }
    block
}

fn control_header(out: &mut BytesMut, frame_type: u16, flags: u8, length: usize) {
    out.put_u16(0x8000 | VERSION);
    out.put_u16(frame_type);
    out.put_u32(frame_length(flags, length));
}

/// Flags in the top byte, the length in the low 24 bits. Callers keep lengths below 2^24:
/// data is read in pieces far smaller, and header blocks are the server's own few headers.
fn frame_length(flags: u8, length: usize) -> u32 {
    (u32::from(flags) << 24) | (length as u32 & 0x00ff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compress;

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), vec![v.to_string()]))
            .collect()
    }

    fn decode_all(decoder: &mut Decoder) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(frame) = decoder.next_frame().expect("a valid frame") {
            frames.push(frame);
        }
        frames
    }

    #[test]
    fn the_dictionary_is_spdy3s() {
        assert_eq!(DICTIONARY.len(), 1423);
        let mut compress = Compress::new(Compression::default(), true);
        assert_eq!(compress.set_dictionary(DICTIONARY).unwrap(), 0xe3c6_a7c2);
    }

    #[test]
    fn a_hand_built_ping_and_data_frame_decode() {
        let mut bytes = vec![0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 7];
        bytes.extend_from_slice(&[0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x02, b'h', b'i']);
        let mut decoder = Decoder::new(DecodeLimits::default());
        // Byte by byte: a frame is only returned once whole.
        let mut frames = Vec::new();
        for byte in bytes {
            decoder.push(&[byte]);
            frames.extend(decode_all(&mut decoder));
        }
        assert_eq!(
            frames,
            vec![
                Frame::Ping { id: 7 },
                Frame::Data {
                    stream_id: 1,
                    flags: FLAG_FIN,
                    data: Bytes::from_static(b"hi"),
                }
            ]
        );
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn frames_round_trip_through_the_encoder_and_decoder() {
        let frames = vec![
            Frame::SynStream {
                stream_id: 1,
                associated_to: 0,
                priority: 0,
                flags: 0,
                headers: headers(&[("streamtype", "error"), ("port", "80"), ("requestid", "0")]),
            },
            // The second block is compressed against the first: the zlib stream continues.
            Frame::SynStream {
                stream_id: 3,
                associated_to: 0,
                priority: 2,
                flags: FLAG_FIN,
                headers: headers(&[("streamtype", "data"), ("port", "80"), ("requestid", "0")]),
            },
            Frame::SynReply {
                stream_id: 3,
                flags: 0,
                headers: vec![],
            },
            Frame::Headers {
                stream_id: 3,
                flags: 0,
                headers: vec![("x".into(), vec!["a".into(), "b".into()])],
            },
            Frame::RstStream {
                stream_id: 3,
                status: CANCEL,
            },
            Frame::Ping { id: 2 },
            Frame::GoAway {
                last_good_stream_id: 3,
                status: GOAWAY_OK,
            },
            Frame::WindowUpdate {
                stream_id: 1,
                delta: 65536,
            },
            Frame::Data {
                stream_id: 3,
                flags: 0,
                data: Bytes::from_static(b"GET / HTTP/1.1\r\n\r\n"),
            },
        ];
        let mut encoder = Encoder::new();
        let mut wire = BytesMut::new();
        for frame in &frames {
            encoder.encode(frame, &mut wire);
        }
        let mut decoder = Decoder::new(DecodeLimits::default());
        // In odd-sized pieces, as a websocket tunnel may split them.
        for piece in wire.chunks(7) {
            decoder.push(piece);
        }
        assert_eq!(decode_all(&mut decoder), frames);
    }

    #[test]
    fn a_syn_stream_as_kubectl_writes_it() {
        // Go's framer: the zlib header names the dictionary, best compression, sync flush.
        let block = header_block(&headers(&[("port", "80"), ("streamtype", "data")]));
        let mut compress = Compress::new(Compression::best(), true);
        compress.set_dictionary(DICTIONARY).unwrap();
        let mut compressed = Vec::with_capacity(1024);
        compress
            .compress_vec(&block, &mut compressed, FlushCompress::Sync)
            .unwrap();
        assert_eq!(
            &compressed[..2],
            &[0x78, 0xf9],
            "FDICT set, best compression"
        );
        let mut frame = vec![0x80, 0x03, 0x00, 0x01];
        frame.extend_from_slice(&((10 + compressed.len()) as u32).to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0, 5, 0, 0, 0, 0, 0, 0]);
        frame.extend_from_slice(&compressed);
        let mut decoder = Decoder::new(DecodeLimits::default());
        decoder.push(&frame);
        match decoder.next_frame().unwrap() {
            Some(Frame::SynStream {
                stream_id: 5,
                headers,
                ..
            }) => {
                assert_eq!(header(&headers, "port"), Some("80"));
                assert_eq!(header(&headers, "streamtype"), Some("data"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_input_is_an_error_never_a_panic() {
        let limits = DecodeLimits::default();
        let cases: &[(&str, Vec<u8>)] = &[
            (
                "SPDY/2",
                vec![0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1],
            ),
            (
                "a short PING",
                vec![0x80, 0x03, 0x00, 0x06, 0, 0, 0, 2, 0, 1],
            ),
            (
                "a frame over the limit",
                vec![0x00, 0x00, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff],
            ),
            ("data on stream 0", vec![0, 0, 0, 0, 0, 0, 0, 1, b'x']),
            (
                "a SYN_STREAM whose block is not zlib",
                vec![
                    0x80, 0x03, 0x00, 0x01, 0, 0, 0, 14, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4,
                ],
            ),
            (
                "a SYN_STREAM too short for its ids",
                vec![0x80, 0x03, 0x00, 0x01, 0, 0, 0, 3, 0, 0, 1],
            ),
            (
                "RST_STREAM with status 0",
                vec![0x80, 0x03, 0x00, 0x03, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0],
            ),
            (
                "SETTINGS whose count lies",
                vec![0x80, 0x03, 0x00, 0x04, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff],
            ),
        ];
        for (reason, bytes) in cases {
            let mut decoder = Decoder::new(limits);
            decoder.push(bytes);
            assert!(decoder.next_frame().is_err(), "{reason}");
        }
        // Unknown control types are skipped, as the draft says.
        let mut decoder = Decoder::new(limits);
        decoder.push(&[0x80, 0x03, 0x00, 0x0a, 0, 0, 0, 2, 1, 2]);
        assert_eq!(
            decoder.next_frame().unwrap(),
            Some(Frame::Unknown { frame_type: 10 })
        );
    }

    #[test]
    fn header_blocks_are_bounded() {
        let limits = DecodeLimits {
            max_header_block: 256,
            ..DecodeLimits::default()
        };
        // A small compressed block that inflates past the limit.
        let big = headers(&[("x", &"a".repeat(10_000))]);
        let mut encoder = Encoder::new();
        let mut wire = BytesMut::new();
        encoder.encode(
            &Frame::SynReply {
                stream_id: 1,
                flags: 0,
                headers: big,
            },
            &mut wire,
        );
        assert!(wire.len() < 256, "compressed to {}", wire.len());
        let mut decoder = Decoder::new(limits);
        decoder.push(&wire);
        assert!(
            decoder
                .next_frame()
                .unwrap_err()
                .0
                .contains("larger than 256 bytes")
        );

        for (reason, block) in [
            ("a count over the limit", {
                let mut b = vec![];
                b.put_u32(1000);
                b
            }),
            ("a length past the end", {
                let mut b = vec![];
                b.put_u32(1);
                b.put_u32(u32::MAX);
                b
            }),
            ("a truncated count", vec![0, 0]),
            ("an uppercase name", header_block_raw(&[("Port", "80")])),
            (
                "a repeated name",
                header_block_raw(&[("port", "80"), ("port", "81")]),
            ),
        ] {
            assert!(parse_header_block(&block, 64).is_err(), "{reason}");
        }
        assert_eq!(
            parse_header_block(&header_block_raw(&[("port", "80\u{0}81")]), 64).unwrap(),
            vec![("port".to_string(), vec!["80".to_string(), "81".to_string()])]
        );
    }

    fn header_block_raw(pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut block = Vec::new();
        block.put_u32(pairs.len() as u32);
        for (name, value) in pairs {
            block.put_u32(name.len() as u32);
            block.extend_from_slice(name.as_bytes());
            block.put_u32(value.len() as u32);
            block.extend_from_slice(value.as_bytes());
        }
        block
    }
}
