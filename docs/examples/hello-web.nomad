# Nomad job for one vr proc: the web proc of the example app, as hello-web.conf (supervisord)
# and vrun@.service (systemd) run it. `nomad job run hello-web.nomad` on a cluster whose
# clients enable the raw_exec driver (plugin "raw_exec" { config { enabled = true } }) and run
# as root: vrun makes the proc's LXC container itself, so Nomad must not isolate it.
# /etc/vr/procs/hello-web.yaml is the proc.yaml (docs/proc-yaml.md), on every client.
# NOT run by vr's tests: Nomad is not packaged by Debian. xtask's dist tests check that its
# commands, stop signal and stop timeout are those of hello-web.conf, which
# tests/tests/supervisor.rs runs under a real supervisord, and of vrun@.service.
# See docs/supervisors.md.
job "hello-web" {
  datacenters = ["dc1"]
  type        = "service"

  group "web" {
    count = 1

    # vrun run exits with the proc's status; Nomad restarts it in place after a crash.
    restart {
      attempts = 3
      interval = "5m"
      delay    = "2s"
      mode     = "fail"
    }

    # setup is idempotent and reuses the cached image and build tarballs.
    task "setup" {
      driver = "raw_exec"
      lifecycle {
        hook = "prestart"
      }
      config {
        command = "/usr/bin/vrun"
        args    = ["setup", "/etc/vr/procs/hello-web.yaml"]
      }
      env {
        VR_ROOT = "/apps"
      }
    }

    # vrun run stays in the foreground for as long as the proc runs.
    task "run" {
      driver = "raw_exec"
      config {
        command = "/usr/bin/vrun"
        args    = ["run", "/etc/vr/procs/hello-web.yaml"]
      }
      env {
        VR_ROOT = "/apps"
      }
      # SIGTERM to vrun reaches the proc; SIGKILL only if it is still running kill_timeout
      # later (at most the client's max_kill_timeout, 30s by default).
      kill_signal  = "SIGTERM"
      kill_timeout = "30s"
    }

    # Once the run task is done for good (the job stopped, or its restarts used up).
    task "teardown" {
      driver = "raw_exec"
      lifecycle {
        hook = "poststop"
      }
      config {
        command = "/usr/bin/vrun"
        args    = ["teardown", "/etc/vr/procs/hello-web.yaml"]
      }
      env {
        VR_ROOT = "/apps"
      }
    }
  }
}
