//! vr-lxc: LXC version detection, config rendering and running containers.
