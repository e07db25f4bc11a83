//! The memory limit keys of a config: `mem_limit`/`memsw_limit` for the host's cgroup version.

use super::{unsupported, ContainerConfig};
use crate::cgroup::{CgroupHost, CgroupVersion};
use crate::version::LxcVersion;
use crate::{Error, Result};

/// Writes the memory limit lines of `cfg` through `line`, or says why the host cannot have them.
pub(super) fn memory_lines(
    cfg: &ContainerConfig,
    v: &LxcVersion,
    cgroups: &CgroupHost,
    line: &mut dyn FnMut(&str, &str),
) -> Result<()> {
    if cfg.mem_limit.is_none() && cfg.memsw_limit.is_none() {
        return Ok(());
    }
    if let (Some(mem), Some(memsw)) = (cfg.mem_limit, cfg.memsw_limit) {
        if memsw < mem {
            return Err(Error::MemswBelowMem { mem, memsw });
        }
    }
    let key = if cfg.mem_limit.is_some() {
        "mem_limit"
    } else {
        "memsw_limit"
    };
    let version = cgroups.memory.ok_or(Error::NoMemoryCgroup { key })?;
    if cfg.memsw_limit.is_some() && !cgroups.swap_accounting {
        return Err(Error::NoSwapAccounting);
    }
    match version {
        CgroupVersion::V1 => {
            // The memory limit first: the kernel refuses memsw below it.
            if let Some(mem) = cfg.mem_limit {
                line("lxc.cgroup.memory.limit_in_bytes", &mem.to_string());
            }
            if let Some(memsw) = cfg.memsw_limit {
                line("lxc.cgroup.memory.memsw.limit_in_bytes", &memsw.to_string());
            }
        }
        CgroupVersion::V2 => {
            if *v < LxcVersion::new(3, 0, 0) {
                return Err(unsupported("memory limits on cgroup v2", "3.0", v));
            }
            if let Some(mem) = cfg.mem_limit {
                line("lxc.cgroup2.memory.max", &mem.to_string());
            }
            if let Some(memsw) = cfg.memsw_limit {
                // v2 limits swap alone: memory+swap minus memory.
                let swap = memsw - cfg.mem_limit.unwrap_or(0);
                line("lxc.cgroup2.memory.swap.max", &swap.to_string());
            }
        }
    }
    Ok(())
}
