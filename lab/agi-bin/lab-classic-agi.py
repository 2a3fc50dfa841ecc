#!/usr/bin/env python3
"""Classic (fork/exec) AGI demo for the pbx-bridge lab.

Installed into the chroot's /usr/share/asterisk/agi-bin/ and run by
AGI(lab-classic-agi.py,...). Asterisk writes the agi_* environment to stdin,
we answer with AGI commands on stdout and read "200 result=..." lines back.
A transcript (env + every command/response) is written to
/tmp/agi-classic-<uniqueid>.log inside the chroot (it runs as the unprivileged lab user).
"""
import sys


def main():
    env_lines = []
    env = {}
    while True:
        line = sys.stdin.readline()
        if not line or line == "\n":
            break
        env_lines.append(line.rstrip("\n"))
        key, _, value = line.rstrip("\n").partition(": ")
        env[key] = value

    log = []

    def cmd(text):
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        resp = sys.stdin.readline().rstrip("\n")
        log.append(">> " + text)
        log.append("<< " + resp)
        return resp

    cmd('VERBOSE "lab-classic-agi.py running for %s" 1' % env.get("agi_callerid", "?"))
    cmd("GET VARIABLE CHANNEL(name)")
    cmd('SET VARIABLE LAB_CLASSIC "ok-%s"' % env.get("agi_arg_1", ""))
    cmd("CHANNEL STATUS")

    uid = env.get("agi_uniqueid", "unknown")
    with open("/tmp/agi-classic-%s.log" % uid, "w") as fh:
        fh.write("# environment received on stdin\n")
        fh.write("\n".join(env_lines) + "\n\n")
        fh.write("# commands (>>) and responses (<<)\n")
        fh.write("\n".join(log) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
