//! vr-fetch: "URL or local path" to a verified file in a cache, and safe tarball unpacking.
