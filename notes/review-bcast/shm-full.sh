#!/bin/sh
# A tiny /dev/shm in a private mount namespace: nothing outside it is touched.
cd "$(dirname "$0")" && exec unshare -m sh -c 'mount -t tmpfs -o size=256k tmpfs /dev/shm && node shm-full.mjs; ls /dev/shm'
