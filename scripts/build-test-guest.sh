#!/usr/bin/env bash
# Builds Vela's tiny test guest (a Debian cloud kernel + a busybox initramfs) and caches it
# OUTSIDE the repository in ${VELA_CACHE:-$HOME/.cache/vela}/guest/: vmlinuz, initrd.img, stamp.
# Prints that directory on stdout (and nothing else), so tests can do
#   dir=$(scripts/build-test-guest.sh)
# It is idempotent and returns at once when the cache matches this script (the stamp holds the
# script's hash). It only downloads Debian packages (apt-get download), never installs the kernel,
# and never touches files in the repository. It may apt-get install cpio when missing.
#
# The guest takes orders from its kernel command line (see the /init written below):
#   vela.ip=ADDR/PREFIX[,GATEWAY] | vela.ip=dhcp   configure eth0
#   vela.write=MiB[@SEEK_MiB]    write MiB of non-zero data to the disk with fsync
#   vela.wsrc=pattern|urandom    data for vela.write/vela.rate (pattern: one random MiB repeated)
#   vela.rate=MiB_PER_S          keep writing at that rate forever (after vela.write)
#   vela.disk=vda                the disk to write (a name under /dev, letters and digits only)
#   vela.ping=ADDR[,TRIES]       ping ADDR (once a second, TRIES times, default 30) in the background:
#                                GUEST-PING-OK ADDR at the first answer, else GUEST-PING-FAIL ADDR
#   vela.poweroff                power off when the steps are done
#   vela.shell                   run a shell on the console when the steps are done
# Marker lines on the serial console: GUEST-UP, GUEST-NET-UP <addr>, GUEST-WRITE-START,
# GUEST-WRITE-DONE mib=N, GUEST-WRITE-FAILED, GUEST-RATE-START mib_per_s=R, GUEST-POWERDOWN
# (power button seen), GUEST-POWEROFF, GUEST-IDLE.
set -euo pipefail

log() { printf 'build-test-guest: %s\n' "$*" >&2; }

CACHE_ROOT="${VELA_CACHE:-$HOME/.cache/vela}"
OUT="$CACHE_ROOT/guest"
SELF="${BASH_SOURCE[0]}"
RECIPE="$(sha256sum "$SELF" | cut -d' ' -f1)"

cached() {
  [[ -f "$OUT/stamp" && -f "$OUT/vmlinuz" && -f "$OUT/initrd.img" ]] &&
    grep -qx "recipe=$RECIPE" "$OUT/stamp"
}

# Fast path, no lock: a complete cache is only ever replaced atomically.
if cached; then
  printf '%s\n' "$OUT"
  exit 0
fi

mkdir -p "$CACHE_ROOT"
# Several test files may ask at once: one builds, the others wait and reuse.
exec 9>"$CACHE_ROOT/guest.lock"
flock 9
if cached; then
  printf '%s\n' "$OUT"
  exit 0
fi

need_apt_lists() {
  ! apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1
}

if need_apt_lists; then
  log "apt lists missing: apt-get update"
  apt-get update -qq >&2
fi

if ! command -v cpio >/dev/null 2>&1; then
  log "installing cpio"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cpio >&2
fi

# The kernel package the cloud meta-package points at today (e.g. linux-image-6.1.0-56-cloud-amd64).
KPKG="$(apt-cache depends linux-image-cloud-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n1)"
[[ -n "$KPKG" ]] || { log "cannot find the kernel package behind linux-image-cloud-amd64"; exit 1; }

DEBS="$CACHE_ROOT/debs"
mkdir -p "$DEBS"
fetch_deb() { # $1 = package name; prints the .deb path
  local pkg="$1" deb
  deb="$(ls "$DEBS"/"${pkg}"_*.deb 2>/dev/null | head -n1 || true)"
  if [[ -z "$deb" ]]; then
    log "downloading $pkg"
    # stale package lists point at versions the mirror no longer has: refresh once and retry
    (cd "$DEBS" && apt-get download -qq "$pkg" >&2) ||
      { apt-get update -qq >&2 && (cd "$DEBS" && apt-get download -qq "$pkg" >&2); }
    deb="$(ls "$DEBS"/"${pkg}"_*.deb | head -n1)"
  fi
  printf '%s\n' "$deb"
}
KDEB="$(fetch_deb "$KPKG")"
BDEB="$(fetch_deb busybox-static)"

WORK="$(mktemp -d "$CACHE_ROOT/guest-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

log "extracting $(basename "$KDEB") and $(basename "$BDEB")"
dpkg-deb -x "$KDEB" "$WORK/kernel"
dpkg-deb -x "$BDEB" "$WORK/busybox"
BB="$WORK/busybox/bin/busybox"
VMLINUZ="$(ls "$WORK"/kernel/boot/vmlinuz-* | head -n1)"
KVER="${VMLINUZ##*/vmlinuz-}"
KMOD="$WORK/kernel/lib/modules/$KVER"
[[ -d "$KMOD" ]] || { log "no modules for $KVER in $KDEB"; exit 1; }

# The .deb ships no modules.dep (its postinst makes one): make it with busybox's depmod.
"$BB" depmod -b "$WORK/kernel" "$KVER"

# Modules the guest loads. Required ones must exist (as modules or built in); optional ones are
# taken when this kernel has them (other NIC models, disk buses).
REQUIRED="virtio_pci virtio_blk virtio_net virtio_console button evdev"
OPTIONAL="virtio_scsi sd_mod ahci ata_piix e1000 8139cp virtio_balloon"

declare -A DEPS=() SEEN=()
while IFS= read -r line; do
  mod="${line%%:*}"
  DEPS["$mod"]="${line#*:}"
done <"$KMOD/modules.dep"

path_of() { # module name -> path relative to $KMOD, or nothing
  local name="$1" p base
  for p in "${!DEPS[@]}"; do
    base="${p##*/}"
    base="${base%%.ko*}"
    if [[ "${base//-/_}" == "${name//-/_}" ]]; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  return 0
}
builtin_mod() { grep -q "/${1}.ko\$" "$KMOD/modules.builtin" 2>/dev/null; }

ORDER=()
visit() { # depth-first: dependencies first, each module once
  local p="$1" d
  [[ -n "${SEEN[$p]:-}" ]] && return 0
  SEEN["$p"]=1
  for d in ${DEPS[$p]}; do visit "$d"; done
  ORDER+=("$p")
}
for m in $REQUIRED; do
  p="$(path_of "$m")"
  if [[ -n "$p" ]]; then visit "$p"
  elif builtin_mod "$m"; then log "$m is built in"
  else log "required module $m not found in $KVER"; exit 1
  fi
done
for m in $OPTIONAL; do
  p="$(path_of "$m")"
  [[ -n "$p" ]] && visit "$p"
done

ROOT="$WORK/root"
mkdir -p "$ROOT"/{bin,sbin,dev,proc,sys,tmp,var/log,var/run,etc/acpi/PWRF,etc/udhcpc,lib/modules/"$KVER"}
cp "$BB" "$ROOT/bin/busybox"
ln -s busybox "$ROOT/bin/sh"
: >"$ROOT/etc/modules.order"
for p in "${ORDER[@]}"; do
  mkdir -p "$ROOT/lib/modules/$KVER/$(dirname "$p")"
  cp "$KMOD/$p" "$ROOT/lib/modules/$KVER/$p"
  printf '/lib/modules/%s/%s\n' "$KVER" "$p" >>"$ROOT/etc/modules.order"
done
log "modules: $(for p in "${ORDER[@]}"; do b="${p##*/}"; printf '%s ' "${b%%.ko*}"; done)"

# busybox acpid runs /etc/acpi/PWRF/00000080 when the power button (QMP system_powerdown) fires.
cat >"$ROOT/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
# acpid runs this detached from the console: say so on the console itself.
exec >/dev/console 2>&1
echo GUEST-POWERDOWN
sync
echo GUEST-POWEROFF
poweroff -f
EOF
chmod 755 "$ROOT/etc/acpi/PWRF/00000080"

cat >"$ROOT/etc/udhcpc/default.script" <<'EOF'
#!/bin/sh
# udhcpc hook: apply the lease to the interface.
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    echo "GUEST-NET-UP $ip/${mask:-24}" >/dev/console
    ;;
esac
exit 0
EOF
chmod 755 "$ROOT/etc/udhcpc/default.script"

cat >"$ROOT/init" <<'EOF'
#!/bin/sh
# Vela test guest: PID 1. Mounts, loads modules, obeys vela.* options of /proc/cmdline,
# prints one marker line per step on the console. Must never exit (PID 1 exit = panic).
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1

while read -r m; do insmod "$m" 2>/dev/null || echo "GUEST-MODULE-FAILED $m"; done </etc/modules.order
mdev -s 2>/dev/null

opt() { # value of vela.$1=... on the kernel command line; "1" for a bare flag
  for w in $(cat /proc/cmdline); do
    case "$w" in
      "vela.$1="*) echo "${w#*=}"; return 0 ;;
      "vela.$1") echo 1; return 0 ;;
    esac
  done
  return 1
}

# acpid exits at once without a writable log file (default /var/log/acpid.log).
acpid -c /etc/acpi -l /tmp/acpid.log || echo "GUEST-ACPID-FAILED"
ip link set lo up
echo "GUEST-UP $(uname -r)"

disk=$(opt disk || echo vda)
case "$disk" in *[!a-z0-9]*|"") echo "GUEST-BAD-OPTION disk"; disk=vda ;; esac

netcfg() {
  ipopt=$(opt ip) || return 0
  ip link set eth0 up || { echo "GUEST-NET-FAILED no eth0"; return 0; }
  if [ "$ipopt" = dhcp ]; then
    udhcpc -s /etc/udhcpc/default.script -i eth0 -q -n -t 10 -T 1 >/dev/null 2>&1 || echo "GUEST-NET-FAILED dhcp"
  else
    addr=${ipopt%%,*}
    ip addr add "$addr" dev eth0 && echo "GUEST-NET-UP $addr"
    case "$ipopt" in *,*) ip route add default via "${ipopt#*,}" ;; esac
  fi
}
netcfg

if p=$(opt ping); then
  target=${p%%,*}; tries=30
  case "$p" in *,*) tries=${p#*,} ;; esac
  (
    n=0
    while [ "$n" -lt "$tries" ]; do
      if ping -c 1 -W 1 "$target" >/dev/null 2>&1; then echo "GUEST-PING-OK $target"; exit 0; fi
      n=$((n + 1)); sleep 1
    done
    echo "GUEST-PING-FAIL $target"
  ) &
fi

# Data source: one random MiB repeated (fast under TCG, never zero) or /dev/urandom (slow).
wsrc=$(opt wsrc || echo pattern)
dd if=/dev/urandom of=/tmp/block bs=1M count=1 2>/dev/null
gen() {
  if [ "$wsrc" = urandom ]; then cat /dev/urandom; else while cat /tmp/block; do :; done; fi 2>/dev/null
}

if w=$(opt write); then
  mib=${w%%@*}; seek=0
  case "$w" in *@*) seek=${w#*@} ;; esac
  echo "GUEST-WRITE-START mib=$mib seek=$seek"
  if gen | dd of=/dev/$disk bs=1M count="$mib" seek="$seek" iflag=fullblock conv=fsync,notrunc 2>/tmp/dd.err; then
    echo "GUEST-WRITE-DONE mib=$mib"
  else
    echo "GUEST-WRITE-FAILED $(tail -n1 /tmp/dd.err)"
  fi
fi

if r=$(opt rate); then
  echo "GUEST-RATE-START mib_per_s=$r"
  (
    size=$(( $(cat /sys/block/$disk/size) / 2048 ))
    off=0
    while :; do
      [ $((off + r)) -gt "$size" ] && off=0
      gen | dd of=/dev/$disk bs=1M count="$r" seek="$off" iflag=fullblock conv=fsync,notrunc 2>/dev/null
      off=$((off + r))
      sleep 1
    done
  ) &
fi

if [ -n "$(opt poweroff)" ]; then
  echo GUEST-POWEROFF
  sync
  poweroff -f
fi
if [ -n "$(opt shell)" ]; then
  setsid cttyhack sh
fi
echo GUEST-IDLE
while :; do sleep 3600; done
EOF
chmod 755 "$ROOT/init"

log "packing initramfs"
(cd "$ROOT" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) | gzip -9 >"$WORK/initrd.img"

# Replace the cache atomically: readers see either the old complete set or the new one.
STAGE="$WORK/out"
mkdir -p "$STAGE"
cp "$VMLINUZ" "$STAGE/vmlinuz"
mv "$WORK/initrd.img" "$STAGE/initrd.img"
printf 'recipe=%s\nkernel=%s\nkver=%s\nbusybox=%s\n' "$RECIPE" "$(basename "$KDEB")" "$KVER" "$(basename "$BDEB")" >"$STAGE/stamp"
OLD="$CACHE_ROOT/guest.old.$$"
[[ -e "$OUT" ]] && mv "$OUT" "$OLD"
mv "$STAGE" "$OUT"
rm -rf "$OLD"
log "built in $OUT"
printf '%s\n' "$OUT"
