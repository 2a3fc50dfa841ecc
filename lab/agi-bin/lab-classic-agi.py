#!/usr/bin/env python3
"""Classic (fork/exec) AGI used by the lab's IVR (plain dialplan, ext 300) and demo (ext 299).

Installed by tests/support/lab/controller.py into the chroot and run there by Asterisk as the
unprivileged lab user, with the chroot's python3. Reads the agi_* environment from stdin, sends a
few commands, sets LAB_CLASSIC, and writes a transcript to /tmp/agi-classic-<uniqueid>.log inside the chroot.
"""

import sys


def main() -> int:
    env = {}
    for line in sys.stdin:
        if line in ("\n", "\r\n"):
            break
        key, _, value = line.rstrip("\r\n").partition(": ")
        env[key] = value
    transcript = [f"{k}: {v}" for k, v in env.items()] + [""]

    def command(text: str) -> str:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        reply = sys.stdin.readline().rstrip("\r\n")
        transcript.extend([f">> {text}", f"<< {reply}"])
        return reply

    command(f'VERBOSE "lab-classic-agi.py for {env.get("agi_callerid", "?")}" 1')
    command("GET VARIABLE CHANNEL(name)")
    command(f'SET VARIABLE LAB_CLASSIC "ok-{env.get("agi_arg_1", "")}"')
    command("CHANNEL STATUS")
    with open(f"/tmp/agi-classic-{env.get('agi_uniqueid', 'unknown')}.log", "w") as fh:
        fh.write("\n".join(transcript) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
