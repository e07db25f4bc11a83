//! vr-proc: the proc.yaml / image.yaml models, validation, container naming, host paths and the
//! rendering of `env.sh`, `proc.sh` and `settings.yaml`. It performs no I/O of its own beyond
//! reading the file it is handed.
