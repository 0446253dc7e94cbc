// Brick disks of machines a gce stack creates: which persistent disk holds which brick, and
// the host script that gives a disk its XFS filesystem and mounts it. Pure: no I/O, no Pulumi.
//
// The disk is mounted at the brick's PARENT directory and the brick is a directory inside it,
// as `brickDirScript` (render/gluster.ts) expects: it refuses a brick whose parent is on the
// root filesystem, and gluster itself refuses a brick that is a mount point.
import type { DataCenter } from "../model/model";
import { brickMountPoint, deviceNameOf, gceNamePart } from "../model/names";
import { script, shq } from "./shell";
import type { CommandStep } from "./steps";

export interface BrickDisk {
  node: string;
  volume: string;
  /** 1-based replica set index of the brick. */
  set: number;
  brick: string;
  arbiter: boolean;
  /** GCE device name: the disk shows up as /dev/disk/by-id/google-<deviceName>. */
  deviceName: string;
  devicePath: string;
  /** Where the disk is mounted: the brick's parent directory. */
  mountPoint: string;
}

// The inventory's rules (model/rules.ts) check the same layout with these names.
export { deviceNameOf, gceNamePart };

export function devicePathOf(deviceName: string): string {
  return `/dev/disk/by-id/google-${deviceName}`;
}

/** Step name of a brick disk's preparation. */
export function diskStepName(dc: string, d: Pick<BrickDisk, "node" | "volume" | "set">): string {
  return `${dc}/disk/${d.node}/${d.volume}-set${d.set}`;
}

/**
 * One disk per brick of the DC. Throws when two bricks of a node would share a mount point
 * (their parent directory), or a brick's parent is `/`: each brick needs a disk of its own.
 * A validated inventory never gets here with either (model/rules.ts gceBrickRules).
 */
export function brickDisks(dc: DataCenter): BrickDisk[] {
  const out: BrickDisk[] = [];
  const byMount = new Map<string, BrickDisk>();
  const byDevice = new Map<string, BrickDisk>();
  for (const v of dc.volumes) {
    for (const set of v.replicaSets) {
      for (const b of set.bricks) {
        const deviceName = deviceNameOf(v.name, set.index);
        const mountPoint = brickMountPoint(b.path);
        const d: BrickDisk = { node: b.node, volume: v.name, set: set.index, brick: b.path, arbiter: b.arbiter, deviceName, devicePath: devicePathOf(deviceName), mountPoint };
        if (mountPoint === "/") {
          throw new Error(`brick ${b.node}:${b.path} of volume ${v.name}: its disk would be mounted at /. Put the brick one level deeper, e.g. ${b.path}/brick`);
        }
        const sameMount = byMount.get(`${b.node} ${mountPoint}`);
        if (sameMount) {
          throw new Error(
            `bricks ${b.node}:${sameMount.brick} (volume ${sameMount.volume}) and ${b.node}:${b.path} (volume ${v.name}) share the directory ${mountPoint}, ` +
              `where each one's own disk would be mounted: give every brick on a node its own parent directory, e.g. /srv/gluster/${v.name}/brick`,
          );
        }
        const sameDevice = byDevice.get(`${b.node} ${deviceName}`);
        if (sameDevice) throw new Error(`volumes ${sameDevice.volume} and ${v.name} on ${b.node} map to the same disk device name ${deviceName}: rename one of them`);
        byMount.set(`${b.node} ${mountPoint}`, d);
        byDevice.set(`${b.node} ${deviceName}`, d);
        out.push(d);
      }
    }
  }
  return out;
}

export interface DiskScriptArgs {
  node: string;
  /** What the disk holds, for messages. */
  what: string;
  /** Stable path of the block device (tests pass a loop device). */
  device: string;
  mountPoint: string;
  /** The fstab to keep the mount in (tests pass their own). */
  fstab?: string;
  /** How often to look for the device before giving up (waits 1, 2, 4, 8, 10... s in between). */
  attempts?: number;
}

/**
 * On the node: give the disk an XFS filesystem only when it has no filesystem, partition table
 * or other signature at all, then mount it by UUID (fstab, `nofail`, before glusterd). A disk
 * that holds anything is never formatted: a foreign filesystem or a different mount at the
 * mount point stops the script instead.
 */
export function diskScript(a: DiskScriptArgs): string {
  const fstab = a.fstab ?? "/etc/fstab";
  return script(
    `brick disk ${a.device} of ${a.what} on ${a.node}, mounted at ${a.mountPoint}`,
    `
dev=${shq(a.device)}
mp=${shq(a.mountPoint)}
fstab=${shq(fstab)}
need_packages xfsprogs
# An attached disk may take a moment to appear under /dev/disk/by-id.
if ! retry ${a.attempts ?? 6} test -b "$dev"; then
  echo "error: no disk at $dev on ${a.node}: is the persistent disk attached with device name $(basename "$dev")?" >&2
  exit 1
fi
real=$(readlink -f -- "$dev")
# probe KEY: what blkid finds on the device itself (no cache); empty when nothing.
probe() { blkid -p -o export "$real" 2>/dev/null | sed -n "s/^$1=//p" || true; }
fstype=$(probe TYPE)
if [[ -z $fstype ]]; then
  pttype=$(probe PTTYPE)
  if [[ -n $pttype ]]; then
    echo "error: $dev on ${a.node} has a $pttype partition table and no filesystem: glustermesh formats only blank disks. Inspect it (lsblk $real) and wipe it by hand if it holds nothing." >&2
    exit 1
  fi
  # No -f: mkfs.xfs itself refuses a device with any signature it knows.
  mkfs.xfs -q -i size=512 "$real"
  changed "made an XFS filesystem on $dev"
  if command -v udevadm >/dev/null; then udevadm settle || true; fi
  fstype=$(probe TYPE)
fi
if [[ $fstype != xfs ]]; then
  echo "error: $dev on ${a.node} holds a $fstype filesystem, not XFS: glustermesh never re-formats a disk. Move its data off and wipe it by hand, or attach a blank disk." >&2
  exit 1
fi
uuid=$(probe UUID)
if [[ -z $uuid ]]; then
  echo "error: the XFS filesystem on $dev has no UUID" >&2
  exit 1
fi
line="UUID=$uuid $mp xfs defaults,noatime,nofail,x-systemd.before=glusterd.service 0 2"
existing=$(awk -v mp="$mp" '$1 !~ /^#/ && $2 == mp' "$fstab")
if [[ -z $existing ]]; then
  tmp=$(mktemp "$fstab.glustermesh.XXXXXX")
  cat "$fstab" > "$tmp"
  printf '# glustermesh: brick disk %s of %s\\n%s\\n' "$(basename "$dev")" ${shq(a.what)} "$line" >> "$tmp"
  chmod 644 "$tmp"
  mv -f "$tmp" "$fstab"
  changed "added $mp to $fstab"
  if [[ -d /run/systemd/system ]]; then systemctl daemon-reload; fi
elif [[ $existing != "$line" ]]; then
  echo "error: $fstab already mounts something else at $mp on ${a.node}:" >&2
  echo "  $existing" >&2
  echo "glustermesh expected: $line" >&2
  exit 1
fi
mkdir -p "$mp"
if mountpoint -q "$mp"; then
  mounted=$(findmnt -rn -o UUID --mountpoint "$mp" || true)
  if [[ $mounted != "$uuid" ]]; then
    echo "error: $mp on ${a.node} is a mount of another filesystem (UUID '$mounted'), not of $dev (UUID $uuid)" >&2
    exit 1
  fi
else
  mount --fstab "$fstab" "$mp"
  changed "mounted $dev at $mp"
fi
`,
  );
}

/** The preparation steps of a gce DC's brick disks, one per brick, on the brick's node. */
export function diskSteps(dc: DataCenter, disks: BrickDisk[] = brickDisks(dc)): CommandStep[] {
  return disks.map((d) => ({
    kind: "command",
    name: diskStepName(dc.name, d),
    component: "host",
    node: d.node,
    after: [],
    script: diskScript({ node: d.node, what: `volume ${d.volume} replica set ${d.set}`, device: d.devicePath, mountPoint: d.mountPoint }),
    summary: `format ${d.devicePath} (XFS) if blank and mount it at ${d.mountPoint} on ${d.node}, for brick ${d.brick}`,
  }));
}
