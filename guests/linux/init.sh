#!/bin/busybox sh
# /init of pvreplay's busybox initramfs (guests/linux/initramfs.ts). Each line it prints is
# checked by tests/guests/linux_boot_test.ts; the results are deterministic (no clocks read).
/bin/busybox mkdir -p /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "pvreplay-init: userspace up"
echo "arith: $((6 * 7)) $(((1 << 20) / 3 % 1000)) $((-17 / 5))"
echo "checksum: $(echo pvreplay | sha256sum | cut -c1-16)"
# busybox-static is built without awk's libm functions: plain double arithmetic and printf.
echo "awk: $(awk 'BEGIN { x = 1; for (i = 1; i <= 30; i++) x = x * 1.25 + 1 / i; printf "%.6f %.4e %d", 355 / 113, x, x / 7 }')"
echo "kernel: $(uname -s -m)"
echo "cpuinfo: $(grep -c ^processor /proc/cpuinfo) cpu(s), fpu $(grep -m1 '^fpu[[:space:]]' /proc/cpuinfo | cut -d' ' -f2)"
echo "memtotal: $(awk '/^MemTotal/ { print ($2 > 0) ? "ok" : "zero" }' /proc/meminfo)"
echo "sys: online cpus $(cat /sys/devices/system/cpu/online)"
echo "pvreplay-init: done"
# isa-debug-exit (port 0xF4, QEMU's and pvreplay's): value 0x10 ends the run with status 0x21.
printf '\020' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
