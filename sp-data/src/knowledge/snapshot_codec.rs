//! The byte format of the embedded vector index's snapshot files: little-endian numbers,
//! length-prefixed strings, slices of plain numbers as their bytes, and a CRC-32 of all of
//! it, checked (with the length) against the manifest before anything read is trusted.

use std::io::{self, Read, Write};

use bytemuck::Pod;

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Writes values, counting bytes and summing the CRC-32 as it goes.
pub(crate) struct Encoder<W: Write> {
    out: W,
    crc: crc32fast::Hasher,
    written: u64,
}

impl<W: Write> Encoder<W> {
    pub(crate) fn new(out: W) -> Self {
        Encoder {
            out,
            crc: crc32fast::Hasher::new(),
            written: 0,
        }
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.crc.update(bytes);
        self.written += bytes.len() as u64;
        self.out.write_all(bytes)
    }

    pub(crate) fn u8(&mut self, value: u8) -> io::Result<()> {
        self.bytes(&[value])
    }

    pub(crate) fn u32(&mut self, value: u32) -> io::Result<()> {
        self.bytes(&value.to_le_bytes())
    }

    pub(crate) fn u64(&mut self, value: u64) -> io::Result<()> {
        self.bytes(&value.to_le_bytes())
    }

    pub(crate) fn i64(&mut self, value: i64) -> io::Result<()> {
        self.bytes(&value.to_le_bytes())
    }

    pub(crate) fn str(&mut self, value: &str) -> io::Result<()> {
        self.u64(value.len() as u64)?;
        self.bytes(value.as_bytes())
    }

    /// A slice of numbers as their in-memory bytes (the manifest records the byte order).
    pub(crate) fn pod_slice<T: Pod>(&mut self, values: &[T]) -> io::Result<()> {
        self.bytes(bytemuck::cast_slice(values))
    }

    /// The writer, the bytes written and their CRC-32.
    pub(crate) fn finish(self) -> (W, u64, u32) {
        (self.out, self.written, self.crc.finalize())
    }
}

/// Reads what an [`Encoder`] wrote, never past the length the manifest gave.
pub(crate) struct Decoder<R: Read> {
    input: R,
    /// `None` when the caller checked the bytes' checksum before parsing them (summing
    /// many small reads one by one costs more than one pass over the whole).
    crc: Option<crc32fast::Hasher>,
    remaining: u64,
}

impl<R: Read> Decoder<R> {
    pub(crate) fn new(input: R, length: u64) -> Self {
        Decoder {
            input,
            crc: Some(crc32fast::Hasher::new()),
            remaining: length,
        }
    }

    fn take(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        if buffer.len() as u64 > self.remaining {
            return Err(invalid("a length runs past the end of the file"));
        }
        self.input.read_exact(buffer)?;
        if let Some(crc) = &mut self.crc {
            crc.update(buffer);
        }
        self.remaining -= buffer.len() as u64;
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut bytes = [0u8; N];
        self.take(&mut bytes)?;
        Ok(bytes)
    }

    pub(crate) fn u8(&mut self) -> io::Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub(crate) fn i64(&mut self) -> io::Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// A count of items at least `item_bytes` long each, refused when the rest of the file
    /// cannot hold them (a corrupt count must not become a huge allocation).
    pub(crate) fn count(&mut self, item_bytes: u64) -> io::Result<usize> {
        let count = self.u64()?;
        if count.saturating_mul(item_bytes.max(1)) > self.remaining {
            return Err(invalid("a count runs past the end of the file"));
        }
        usize::try_from(count).map_err(|_| invalid("a count does not fit in memory"))
    }

    pub(crate) fn bytes(&mut self) -> io::Result<Vec<u8>> {
        let length = self.count(1)?;
        let mut bytes = vec![0u8; length];
        self.take(&mut bytes)?;
        Ok(bytes)
    }

    pub(crate) fn string(&mut self) -> io::Result<String> {
        String::from_utf8(self.bytes()?).map_err(|_| invalid("a string is not UTF-8"))
    }

    pub(crate) fn pod_vec<T: Pod>(&mut self, count: usize) -> io::Result<Vec<T>> {
        let size = std::mem::size_of::<T>() as u64;
        if (count as u64).saturating_mul(size) > self.remaining {
            return Err(invalid("a slice runs past the end of the file"));
        }
        let mut values = vec![T::zeroed(); count];
        self.take(bytemuck::cast_slice_mut(&mut values))?;
        Ok(values)
    }

    /// Reads (and sums) the rest of the file, for a file checked but parsed elsewhere.
    pub(crate) fn skip_to_end(&mut self) -> io::Result<()> {
        let mut chunk = vec![0u8; 1 << 20];
        while self.remaining > 0 {
            let length = chunk.len().min(self.remaining as usize);
            self.take(&mut chunk[..length])?;
        }
        Ok(())
    }

    /// Checks that the whole file was read and that its CRC-32 is `expected`.
    pub(crate) fn finish(self, expected: u32) -> io::Result<()> {
        if self.remaining != 0 {
            return Err(invalid("bytes left over at the end of the file"));
        }
        match self.crc.map(crc32fast::Hasher::finalize) {
            Some(crc) if crc != expected => Err(invalid("checksum mismatch")),
            _ => Ok(()),
        }
    }
}

impl<'a> Decoder<&'a [u8]> {
    /// Reads `bytes`, whose length and CRC-32 must be `expected`: checked first, in one pass.
    pub(crate) fn checked(bytes: &'a [u8], expected: u32) -> io::Result<Self> {
        if crc32fast::hash(bytes) != expected {
            return Err(invalid("checksum mismatch"));
        }
        Ok(Decoder {
            input: bytes,
            crc: None,
            remaining: bytes.len() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded() -> (Vec<u8>, u32) {
        let mut encoder = Encoder::new(Vec::new());
        encoder.u8(7).unwrap();
        encoder.str("héllo").unwrap();
        encoder.i64(-3).unwrap();
        encoder.pod_slice(&[1.5f32, -2.0]).unwrap();
        let (bytes, length, crc) = encoder.finish();
        assert_eq!(length, bytes.len() as u64);
        (bytes, crc)
    }

    #[test]
    fn round_trip_then_checksum() {
        let (bytes, crc) = encoded();
        let mut decoder = Decoder::new(bytes.as_slice(), bytes.len() as u64);
        assert_eq!(decoder.u8().unwrap(), 7);
        assert_eq!(decoder.string().unwrap(), "héllo");
        assert_eq!(decoder.i64().unwrap(), -3);
        assert_eq!(decoder.pod_vec::<f32>(2).unwrap(), [1.5, -2.0]);
        decoder.finish(crc).unwrap();
    }

    #[test]
    fn corruption_and_truncation_are_refused() {
        let (mut bytes, crc) = encoded();
        bytes[10] ^= 0x40;
        let mut decoder = Decoder::new(bytes.as_slice(), bytes.len() as u64);
        decoder.u8().unwrap();
        let _ = decoder.string();
        decoder.i64().unwrap();
        decoder.pod_vec::<f32>(2).unwrap();
        assert!(decoder.finish(crc).is_err());

        let (bytes, _) = encoded();
        let mut short = Decoder::new(&bytes[..4], 4);
        short.u8().unwrap();
        // The string's length prefix itself no longer fits.
        assert!(short.string().is_err());
        let mut huge = Decoder::new([0xff; 8].as_slice(), 8);
        assert!(huge.count(1).is_err());

        let (mut bytes, crc) = encoded();
        assert!(Decoder::checked(&bytes, crc).is_ok());
        bytes[3] ^= 1;
        assert!(Decoder::checked(&bytes, crc).is_err());
    }
}
