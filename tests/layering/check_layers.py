#!/usr/bin/env python3
"""Checks a built target's include graph and link line against a layer rule.

  check_layers.py SOURCE_ROOT BUILD_DIR TARGET FORBIDDEN_DIR... [--forbid-lib NAME]...
                  [--expect-found]

Every object file TARGET is made from (ninja -t inputs) must have its header
dependencies in ninja's deps log (so the target must be built: an object
without them fails the check rather than passing unread), and none of those
headers may lie in a FORBIDDEN_DIR of the source tree (e.g. lib/kube). Nor
may the final command that makes TARGET (its link or archive line) name a
file built in a FORBIDDEN_DIR (e.g. lib/kube/libvireo_kube.a). A FORBIDDEN_DIR
may also be an absolute path, for a system library's headers
(/usr/include/cpprest).

--forbid-lib NAME: nor may that line name the system library libNAME (-lNAME
or a path to libNAME.so/.a), nor, when TARGET is an executable, may its
dynamic section need it (readelf -d: what the loader will map).

--expect-found turns the verdict round: the check must find the forbidden
folder, which shows it sees what it is meant to see (virtctl links lib/kube).
"""
import os
import subprocess
import sys


def ninja(build_dir, *args):
    return subprocess.run(['ninja', '-C', build_dir, *args], check=True, text=True,
                          stdout=subprocess.PIPE).stdout


def under(path, folder):
    return os.path.commonpath([path, folder]) == folder


def main(argv):
    expect_found = '--expect-found' in argv
    argv = [a for a in argv if a != '--expect-found']
    libs = []
    while '--forbid-lib' in argv:
        i = argv.index('--forbid-lib')
        libs.append(argv[i + 1])
        del argv[i:i + 2]
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    source_root, build_dir, target = (os.path.realpath(argv[0]), os.path.realpath(argv[1]),
                                      argv[2])
    forbidden = argv[3:]
    system = [f.rstrip('/') for f in forbidden if os.path.isabs(f)]
    tree = [f.strip('/') for f in forbidden if not os.path.isabs(f)]
    forbidden_src = [os.path.join(source_root, f) for f in tree] + system
    forbidden_build = [os.path.join(build_dir, f) for f in tree]

    inputs = ninja(build_dir, '-t', 'inputs', target).split()
    objects = [i for i in inputs if i.endswith('.o')]
    if not objects:
        print(f'FAIL: ninja lists no object files for {target}', file=sys.stderr)
        return 1

    # `ninja -t deps OBJ...`: "OBJ: #deps N, deps mtime M (VALID|STALE)", then
    # one indented dependency a line, then a blank line.
    found = []
    unrecorded = []
    current = None
    headers = 0
    for line in ninja(build_dir, '-t', 'deps', *objects).splitlines():
        if not line.strip():
            continue
        if not line.startswith(' '):
            current = line.split(':', 1)[0]
            if 'deps not found' in line or 'STALE' in line:
                unrecorded.append(current)
            continue
        dep = os.path.realpath(os.path.join(build_dir, line.strip()))
        headers += 1
        for folder in forbidden_src:
            if under(dep, folder):
                shown = dep if folder in system else os.path.relpath(dep, source_root)
                found.append(f'{current} includes {shown}')
    if unrecorded:
        print(f'FAIL: no up-to-date header list for {len(unrecorded)} object(s) of {target} '
              f'(build it first): {unrecorded[:5]}', file=sys.stderr)
        return 1

    commands = ninja(build_dir, '-t', 'commands', target).splitlines()
    final = commands[-1] if commands else ''
    for word in final.split():
        path = os.path.realpath(os.path.join(build_dir, word))
        for folder in forbidden_build + forbidden_src:
            if under(path, folder):
                found.append(f'the command that makes {target} names {word}')
        base = os.path.basename(word)
        for lib in libs:
            if word == f'-l{lib}' or base.startswith(f'lib{lib}.'):
                found.append(f'the command that makes {target} names {word}')
    binary = os.path.join(build_dir, target)
    if libs and not target.endswith('.a'):
        dynamic = subprocess.run(['readelf', '-d', binary], check=True, text=True,
                                 stdout=subprocess.PIPE).stdout
        needed = [line.split('[', 1)[1].rstrip(']') for line in dynamic.splitlines()
                  if '(NEEDED)' in line]
        if not needed:
            print(f'FAIL: readelf lists no NEEDED library for {binary}', file=sys.stderr)
            return 1
        for lib in libs:
            for n in needed:
                if n.startswith(f'lib{lib}.'):
                    found.append(f'{target} needs {n} at run time')

    print(f'{target}: {len(objects)} objects, {headers} header dependencies read, '
          f'{len(final.split())} words in its final command; forbidden: '
          f'{", ".join(forbidden + ["lib" + lib for lib in libs])}')
    for f in sorted(set(found))[:20]:
        print('  ' + f)
    if expect_found:
        if not found:
            print(f'FAIL: expected {target} to reach {forbidden}, found nothing: the check is blind',
                  file=sys.stderr)
            return 1
        print(f'ok: {len(found)} uses found, as expected')
        return 0
    if found:
        print(f'FAIL: {target} reaches {", ".join(forbidden)} ({len(found)} uses, listed above)',
              file=sys.stderr)
        return 1
    print('ok')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
