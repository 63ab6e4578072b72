#!/usr/bin/env bash
# Runs Nordic's real provision.py (sdk-sidewalk tools/provision, from a git mirror) on the inputs
# made by make-inputs.ts and stores its .bin and .hex outputs in test/vectors/mfg/expected, the
# bytes `swtool mfg build` must reproduce. Needs python3 with PyYAML and intelhex (Debian:
# python3-yaml python3-intelhex). Not run in CI: the outputs are committed.
#   test/mfg/make-vectors.sh /work/.mirror/nrfconnect+sdk-sidewalk/repo
set -euo pipefail
MIRROR=${1:?path to a git clone/mirror of nrfconnect/sdk-sidewalk}
HERE=$(cd "$(dirname "$0")" && pwd)
IN=$HERE/../vectors/mfg/inputs
OUT=$HERE/../vectors/mfg/expected
PY=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
rev=$(git -C "$MIRROR" rev-parse HEAD)
mkdir -p "$work/tools/provision" && git -C "$MIRROR" archive HEAD:tools/provision | tar -x -C "$work/tools/provision"
cp "$work/tools/provision/sid_provision/config/nordic/nrf528xx_dk/config_legacy.yaml" "$IN/config_legacy.yaml"
cp "$work/tools/provision/sid_provision/config/nordic/nrf528xx_dk/config.yaml" "$IN/config.yaml"
mkdir -p "$OUT"; rm -f "$OUT"/*.bin "$OUT"/*.hex
P="$PY $work/tools/provision/provision.py nordic"
cd "$work"
APP=$(tr -d '\n' < "$IN/testpki-app-key.hex")
run() { local name=$1; shift; $P "$@" --output_bin "$OUT/$name.bin" --output_hex "$OUT/$name.hex" > "$work/$name.log" 2>&1 || { cat "$work/$name.log"; exit 1; }; }

run testpki-acs-tlv acs --json "$IN/testpki-signing-output.json" --app_srv_pub "$APP"
run testpki-acs-legacy acs --json "$IN/testpki-signing-output.json" --app_srv_pub "$APP" --config "$IN/config_legacy.yaml"
run testpki-acs-addr-1000 acs --json "$IN/testpki-signing-output.json" --app_srv_pub "$APP" --addr 0x1000
run testpki-acs-addr-fff8 acs --json "$IN/testpki-signing-output.json" --app_srv_pub "$APP" --addr 0xFFF8
run testpki-certificate-tlv aws --certificate_json "$IN/testpki-certificate.json"
run testpki-certificate-legacy aws --certificate_json "$IN/testpki-certificate.json" --config "$IN/config_legacy.yaml"
run testpki-aws-tlv aws --wireless_device_json "$IN/testpki-wireless-device.json" --device_profile_json "$IN/testpki-device-profile.json"
run serial-expansion-tlv aws --certificate_json "$IN/serial-expansion-signing-output.json"
run seed-tlv aws --certificate_json "$IN/seed-with-standin-keys.json"
run seed-legacy aws --certificate_json "$IN/seed-with-standin-keys.json" --config "$IN/config_legacy.yaml"
# The app key given as a 32-byte binary file instead of hex.
printf '%s' "$APP" | xxd -r -p > "$work/app.bin"
run testpki-acs-appfile acs --json "$IN/testpki-signing-output.json" --app_srv_pub "$work/app.bin"
# Merging into an existing page: a bin that already holds a (different) device's page.
cp "$OUT/testpki-certificate-tlv.bin" "$OUT/merge-tlv-over-other.bin"
$P acs --json "$IN/testpki-signing-output.json" --app_srv_pub "$APP" --output_bin "$OUT/merge-tlv-over-other.bin" --output_hex "$work/ignored.hex" > /dev/null
# ... and into pages carrying the factory's own data: a custom TLV record (tag 0x0FA1, 6 bytes)
# after another device's TLV page; custom bytes in the fixed layout's unused SERIAL_NUM words.
$PY -c "import sys; d=open(sys.argv[1],'rb').read(); open(sys.argv[2],'wb').write(d + bytes.fromhex('0fa10006') + b'CUSTOM' + b'\xff\xff')" "$OUT/testpki-certificate-tlv.bin" "$OUT/merge-tlv-custom.bin"
$P acs --json "$IN/testpki-signing-output.json" --app_srv_pub "$APP" --output_bin "$OUT/merge-tlv-custom.bin" --output_hex "$work/ignored.hex" > /dev/null
$PY -c "import sys; d=bytearray(open(sys.argv[1],'rb').read()); d[8:32]=b'FACTORY-SERIAL-0000001\x00\x00'; open(sys.argv[2],'wb').write(d)" "$OUT/testpki-certificate-legacy.bin" "$OUT/merge-legacy-custom.bin"
$P acs --json "$IN/testpki-signing-output.json" --app_srv_pub "$APP" --config "$IN/config_legacy.yaml" --output_bin "$OUT/merge-legacy-custom.bin" --output_hex "$work/ignored.hex" > /dev/null
echo "provision.py from nrfconnect/sdk-sidewalk $rev" > "$OUT/SOURCE"
ls -l "$OUT"
