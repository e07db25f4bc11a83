//! `vpack ROOT OUT.tar.gz`: packs a tree with vimage's packer (used by `cargo xtask bench image`).
fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: vpack ROOT OUT.tar.gz");
        return std::process::ExitCode::from(2);
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    match vimage::pack::pack(args[1].as_ref(), args[2].as_ref(), &[], threads) {
        Ok(p) => {
            println!("{} {}", p.md5, p.size);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vpack: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
