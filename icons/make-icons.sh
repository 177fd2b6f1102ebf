#!/usr/bin/env bash
# Draws Berth's icons with ImageMagick (an anchor on a blue rounded square) and writes every
# size Tauri needs, plus the monochrome tray icons. The PNG/ICO/ICNS files are committed; run
# this again only to change the drawing.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

anchor() { # $1 = colour, $2 = stroke width: the anchor on a 1024×1024 canvas
  cat <<MVG
push graphic-context
  fill none
  stroke $1
  stroke-width $2
  stroke-linecap round
  stroke-linejoin round
  circle 512,262 512,326
  line 512,330 512,806
  line 384,430 640,430
  path 'M 262,586 A 256,256 0 0 0 762,586'
  path 'M 206,640 L 262,586 L 330,622'
  path 'M 818,640 L 762,586 L 694,622'
pop graphic-context
MVG
}

convert -size 1024x1024 xc:none -fill white -draw "roundrectangle 64,64 959,959 210,210" "$work/mask.png"
convert -size 1024x1024 gradient:'#5b95ff'-'#1e40af' "$work/grad.png"
convert "$work/grad.png" "$work/mask.png" -alpha off -compose CopyOpacity -composite "$work/bg.png"
convert "$work/bg.png" -draw "$(anchor white 66)" "$work/icon-1024.png"

png() { convert "$work/icon-1024.png" -filter Lanczos -resize "$1x$1" -strip "PNG32:$2"; }
png 32 32x32.png
png 128 128x128.png
png 256 128x128@2x.png
png 512 icon.png
for s in 16 24 32 48 64 256; do png "$s" "$work/ico-$s.png"; done
convert "$work"/ico-{16,24,32,48,64,256}.png icon.ico

# macOS .icns: a header and PNG entries (ic07 128, ic08 256, ic09 512, ic10 1024).
png 1024 "$work/icns-1024.png"
python3 - "$work" <<'PY'
import struct, sys
work = sys.argv[1]
import subprocess
entries = []
for kind, size in ((b"ic07", 128), (b"ic08", 256), (b"ic09", 512), (b"ic10", 1024)):
    path = f"{work}/icns-{size}.png"
    if size != 1024:
        subprocess.run(["convert", f"{work}/icon-1024.png", "-filter", "Lanczos", "-resize", f"{size}x{size}", "-strip", f"PNG32:{path}"], check=True)
    data = open(path, "rb").read()
    entries.append(kind + struct.pack(">I", len(data) + 8) + data)
body = b"".join(entries)
open("icon.icns", "wb").write(b"icns" + struct.pack(">I", len(body) + 8) + body)
PY

# Tray: the anchor alone, thicker so it reads at 16–22 px. Linux and Windows panels are light or
# dark, so there it is white with a dark outline; on macOS a black template image the system
# tints itself.
tray() { # $1 output, then the drawings
  local out=$1; shift
  local draw=()
  for d in "$@"; do draw+=(-draw "$d"); done
  convert -size 1024x1024 xc:none "${draw[@]}" -trim +repage \
    -gravity center -background none -extent 720x720 -filter Lanczos -resize 64x64 -strip "PNG32:$out"
}
tray tray.png "$(anchor '#1e293b' 132)" "$(anchor white 92)"
tray tray-template.png "$(anchor black 92)"
ls -l
