//! One deflate block with stock zlib (through `libz-sys`): raw deflate primed with a dictionary,
//! ended by a sync flush or, for the last block, by the final block.
//!
//! Why stock zlib and not flate2's zlib-rs backend (which vr-fetch uses to inflate): at level 6
//! zlib-rs follows zlib-ng's faster "medium" strategy, whose output measured 2.7 % larger than
//! `gzip -6` on a 690 MB tree; stock zlib's level 6 is byte-compatible with what `tar -czf`
//! users expect in size (within 0.1 %).

use libz_sys as z;
use std::ffi::c_int;
use std::io;
use std::ptr;

unsafe extern "C" fn zalloc(_opaque: z::voidpf, items: z::uInt, size: z::uInt) -> z::voidpf {
    // SAFETY: calloc has no preconditions; zlib checks the result for NULL.
    unsafe { libc::calloc(items as usize, size as usize) }
}

unsafe extern "C" fn zfree(_opaque: z::voidpf, address: z::voidpf) {
    // SAFETY: zlib only frees what zalloc returned.
    unsafe { libc::free(address) }
}

/// A deflate stream that is ended when dropped.
struct Stream(Box<z::z_stream>);

impl Drop for Stream {
    fn drop(&mut self) {
        // SAFETY: the stream was initialised by deflateInit2_ (Stream is only built after it
        // succeeded) and is ended exactly once.
        unsafe {
            z::deflateEnd(&mut *self.0);
        }
    }
}

fn zerr(what: &str, rc: c_int) -> io::Error {
    io::Error::other(format!("zlib {what} failed with code {rc}"))
}

/// Deflates `data` at `level` (raw deflate, no header), primed with `dict`; a sync flush ends a
/// middle block, the final deflate block ends the `last` one.
pub fn deflate_block(data: &[u8], dict: &[u8], level: u32, last: bool) -> io::Result<Vec<u8>> {
    let len =
        z::uInt::try_from(data.len()).map_err(|_| io::Error::other("deflate block too large"))?;
    let mut raw = Box::new(z::z_stream {
        next_in: ptr::null_mut(),
        avail_in: 0,
        total_in: 0,
        next_out: ptr::null_mut(),
        avail_out: 0,
        total_out: 0,
        msg: ptr::null_mut(),
        state: ptr::null_mut(),
        zalloc,
        zfree,
        opaque: ptr::null_mut(),
        data_type: 0,
        adler: 0,
        reserved: 0,
    });
    // SAFETY: raw is a valid, boxed (address-stable) z_stream with allocator callbacks set;
    // zlibVersion returns a static string; the size is of the struct libz-sys declares.
    let rc = unsafe {
        z::deflateInit2_(
            &mut *raw,
            level.min(9) as c_int,
            z::Z_DEFLATED,
            -15,
            8,
            z::Z_DEFAULT_STRATEGY,
            z::zlibVersion(),
            std::mem::size_of::<z::z_stream>() as c_int,
        )
    };
    if rc != z::Z_OK {
        return Err(zerr("deflateInit2", rc));
    }
    let mut stream = Stream(raw);
    if !dict.is_empty() {
        // SAFETY: dict is a live slice of at most 32 KiB; zlib copies it into its window.
        let rc = unsafe {
            z::deflateSetDictionary(&mut *stream.0, dict.as_ptr(), dict.len() as z::uInt)
        };
        if rc != z::Z_OK {
            return Err(zerr("deflateSetDictionary", rc));
        }
    }
    // SAFETY: the stream is initialised; deflateBound only reads its parameters.
    let bound = unsafe { z::deflateBound(&mut *stream.0, len as z::uLong) } as usize;
    // deflateBound covers a Z_FINISH; a sync flush adds at most an empty stored block (5 bytes).
    let mut out: Vec<u8> = Vec::with_capacity(bound + 64);
    let cap = out.capacity();
    stream.0.next_in = data.as_ptr().cast_mut();
    stream.0.avail_in = len;
    stream.0.next_out = out.as_mut_ptr();
    stream.0.avail_out =
        z::uInt::try_from(cap).map_err(|_| io::Error::other("deflate output too large"))?;
    let flush = if last { z::Z_FINISH } else { z::Z_SYNC_FLUSH };
    // SAFETY: next_in/avail_in describe `data`, which zlib only reads; next_out/avail_out
    // describe the spare capacity of `out`, which outlives the call.
    let rc = unsafe { z::deflate(&mut *stream.0, flush) };
    let done = if last {
        rc == z::Z_STREAM_END
    } else {
        rc == z::Z_OK && stream.0.avail_in == 0 && stream.0.avail_out > 0
    };
    if !done {
        return Err(zerr("deflate", rc));
    }
    let written = cap - stream.0.avail_out as usize;
    // SAFETY: zlib initialised exactly `written` bytes at the start of the buffer.
    unsafe { out.set_len(written) };
    Ok(out)
}
