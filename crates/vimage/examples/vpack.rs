//! `vpack ROOT OUT.tar.gz|OUT.tar.zst`: packs a tree with vimage's packer on every core, in the
//! format the name ends with (used by `cargo xtask bench image`). `SOURCE_DATE_EPOCH` is read
//! as vimage reads it.
use std::process::ExitCode;
use vimage::pack::{pack, source_date_epoch, ImageFormat, PackOptions, SOURCE_DATE_EPOCH};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: vpack ROOT OUT.tar.gz|OUT.tar.zst");
        return ExitCode::from(2);
    }
    let format = if args[2].ends_with(".zst") {
        ImageFormat::Zstd
    } else {
        ImageFormat::Gzip
    };
    let epoch = match source_date_epoch(std::env::var_os(SOURCE_DATE_EPOCH).as_deref()) {
        Ok(epoch) => epoch,
        Err(e) => {
            eprintln!("vpack: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = PackOptions {
        format,
        source_date_epoch: epoch,
        ..PackOptions::default()
    };
    match pack(args[1].as_ref(), args[2].as_ref(), &opts) {
        Ok(p) => {
            println!("{} {}", p.md5, p.size);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vpack: {e}");
            ExitCode::FAILURE
        }
    }
}
