#!/usr/bin/env bash
# Computes test/vectors/hsm-scp03.json with the openssl CLI only, independently of swtool's code:
# the session of python-yubihsm's test_core (password "password", host challenge 00*8, card
# challenge 054d5631c9186f80), then one SESSION MESSAGE (ECHO deadbeef) and its response.
# Usage: bash test/hsm/make-scp03-vectors.sh > test/vectors/hsm-scp03.json
set -euo pipefail
h2b() { xxd -r -p; }
cmac() { # key hex, message hex -> 16-byte CMAC hex
  local cipher=AES-128-CBC; [ ${#1} -eq 64 ] && cipher=AES-256-CBC
  printf '%s' "$2" | h2b | openssl mac -cipher "$cipher" -macopt "hexkey:$1" CMAC | tr 'A-F' 'a-f'
}
ecb() { printf '%s' "$2" | h2b | openssl enc -aes-128-ecb -nopad -K "$1" | xxd -p -c 256; }
cbc() { printf '%s' "$3" | h2b | openssl enc -aes-128-cbc -nopad -K "$1" -iv "$2" | xxd -p -c 256; }
kdf() { cmac "$1" "0000000000000000000000${2}00${3}01${4}"; } # key, constant, L (0080|0040), context

auth=$(openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt pass:password -kdfopt salt:Yubico -kdfopt iter:10000 PBKDF2 | tr -d ':' | tr 'A-F' 'a-f')
kenc=${auth:0:32}; kmac=${auth:32:32}
context=0000000000000000054d5631c9186f80
senc=$(kdf "$kenc" 04 0080 "$context")
smac=$(kdf "$kmac" 06 0080 "$context")
srmac=$(kdf "$kmac" 07 0080 "$context")
card=$(kdf "$smac" 00 0040 "$context"); card=${card:0:16}
host=$(kdf "$smac" 01 0040 "$context"); host=${host:0:16}
authbody=04001100$host
chain=$(cmac "$smac" "00000000000000000000000000000000$authbody")
authmsg=$authbody${chain:0:16}

inner=010004deadbeef
padded=${inner}800000000000000000
iv=$(ecb "$senc" 00000000000000000000000000000001)
ct=$(cbc "$senc" "$iv" "$padded")
cmdbody=05001900$ct
next=$(cmac "$smac" "$chain$cmdbody")
cmdmsg=$cmdbody${next:0:16}
rinner=810004deadbeef
rct=$(cbc "$senc" "$iv" "${rinner}800000000000000000")
rbody=85001900$rct
rmac=$(cmac "$srmac" "$next$rbody")
rspmsg=$rbody${rmac:0:16}

cat <<JSON
{
  "source": "computed by test/hsm/make-scp03-vectors.sh with the openssl CLI; session of python-yubihsm tests/test_core.py",
  "password": "password",
  "authEncKey": "$kenc",
  "authMacKey": "$kmac",
  "context": "$context",
  "sEnc": "$senc",
  "sMac": "$smac",
  "sRmac": "$srmac",
  "cardCryptogram": "$card",
  "hostCryptogram": "$host",
  "authenticateSession": "$authmsg",
  "macChainAfterAuth": "$chain",
  "counter1Iv": "$iv",
  "command": "$inner",
  "sessionMessage": "$cmdmsg",
  "macChainAfterCommand": "$next",
  "response": "$rinner",
  "sessionResponse": "$rspmsg"
}
JSON
