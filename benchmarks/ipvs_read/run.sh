#!/bin/sh
# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# run.sh RULES REPS: load RULES with ipvsadm -R, compare the two readers once, then time every mode REPS
# times, interleaved (the test bed is shared: the modes see the same load). Run from this directory.
set -eu
ipvsadm -C
ipvsadm -R < "$1"
python3 read.py compare
for _ in $(seq "$2"); do
  for mode in netlink netlink_raw sockopt ipvsadm save; do
    printf '%s %s\n' "$mode" "$(python3 read.py "$mode")"
  done
done
