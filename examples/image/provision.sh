#!/bin/sh
# Provisions the demo stack. vimage runs it as root inside a container on a fresh copy of the
# base image (busybox: POSIX sh, no bash), with STACK_NAME and APP_USER from image.yaml's env.
set -eu
echo "provisioning $STACK_NAME on $(hostname)"

# The user the app runs as. proc.yaml names it (user/group); vrun looks it up in this image's
# /etc/passwd and /etc/group, not the host's.
echo "$APP_USER:x:2000:2000:$APP_USER:/app:/bin/sh" >> /etc/passwd
echo "$APP_USER:x:2000:" >> /etc/group

# Which stack this is: the app's uptests read it.
echo "$STACK_NAME" > /etc/stack-release
echo "added user $APP_USER (2000:2000) and /etc/stack-release"
