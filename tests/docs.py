#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The documentation says what the programs do: the commands and options of
hearthctl in its --help, in hearthctl(1) and in the README; the options of
hearthd in its --help, in hearthd(8) and in the README; the settings the
gateway's config parser knows, in the packaged hearth.conf, in hearth.conf(5)
and in the README's settings block.

Nothing is listed here: every set is read from its source (the programs
themselves for the truth: hearthctl --help and each command's --help,
hearthd --help, and the config parser's own list of known sections and
keys, which hearthd --check-config prints for an unknown one). A difference
fails the test with what is missing where. hearth-display is left out.
"""
import os
import re
import subprocess
import sys
import tempfile

BUILD = os.environ["HEARTH_BUILD_DIR"]
SOURCE = os.environ["HEARTH_SOURCE_DIR"]
HEARTHCTL = os.path.join(BUILD, "gateway", "hearthctl")
HEARTHD = os.path.join(BUILD, "gateway", "hearthd")
README = os.path.join(SOURCE, "README.md")
MAN = os.path.join(SOURCE, "packaging", "man")
CONF = os.path.join(SOURCE, "packaging", "hearth.conf")

OPTION = re.compile(r"--[a-z][a-z0-9-]*")
problems = []


def run(*args):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    return done.stdout + done.stderr


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def compare(what, sources):
    """sources: {name: set}; each difference is a problem."""
    everything = set().union(*sources.values())
    for name, found in sources.items():
        missing = sorted(everything - found)
        if missing:
            others = [n for n, s in sources.items() if s & set(missing) and n != name]
            problems.append(f"{what}: {name} lacks {', '.join(missing)} "
                            f"(in {', '.join(others)})")


def help_section(text, title):
    """The lines of a GOption --help section ("Application Options:")."""
    out, inside = [], False
    for line in text.splitlines():
        if line.strip() == title:
            inside = True
        elif inside and line and not line.startswith(" "):
            break
        elif inside:
            out.append(line)
    return out


def help_options(text):
    """--options of the Application Options of a --help, and which take a value."""
    options, valued = set(), set()
    for line in help_section(text, "Application Options:"):
        head = line.strip().split("  ")[0]
        for m in re.finditer(r"(--[a-z][a-z0-9-]*)(=)?", head):
            options.add(m.group(1))
            if m.group(2):
                valued.add(m.group(1))
    return options, valued


def roff_text(line):
    """A man page line as text: macro, quotes and escapes gone."""
    line = re.sub(r"^\.[A-Za-z]+\s*", "", line)
    line = line.replace("\\-", "-").replace('"', "")
    return re.sub(r"\\\([a-z]{2}|\\f[BIRP]|\\&", "", line)


def man_sections(path):
    """{section title: [lines]} of a man page."""
    sections, title = {}, None
    for line in read(path).splitlines():
        if line.startswith(".SH "):
            title = line[4:].strip().strip('"')
            sections[title] = []
        elif title is not None:
            sections[title].append(line)
    return sections


def man_tags(lines):
    """The text of each .TP/.TQ tag: the macro lines that follow it up to
    the first line of plain text."""
    tags, current = [], None
    for line in lines:
        if line.startswith((".TP", ".TQ")):
            if current is not None:
                tags.append(" ".join(current))
            current = []
        elif current is not None and line.startswith(".") and not line.startswith((".PP", ".RS", ".RE", ".nf", ".fi")):
            current.append(roff_text(line))
        elif current is not None:
            tags.append(" ".join(current))
            current = None
    if current is not None:
        tags.append(" ".join(current))
    return tags


def entries_of(text, commands, entries, options):
    """Adds the "command [action]" of a usage text and its --options."""
    words = text.replace("[", " ").replace("]", " ").replace("|", " ").split()
    if not words or words[0] not in commands:
        return
    cmd = words[0]
    entry = cmd
    if len(words) > 1 and re.fullmatch(r"[a-z]+", words[1]):
        entry = f"{cmd} {words[1]}"
    entries.add(entry)
    options.setdefault(cmd, set()).update(w for w in words if OPTION.fullmatch(w))


def code_blocks(text):
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M)


def readme_section(text, title):
    m = re.search(r"^## " + re.escape(title) + r"\n(.*?)(?=^## )", text, re.S | re.M)
    return m.group(1) if m else ""


# ---- hearthctl ----

main_help = run(HEARTHCTL, "--help")
ctl_global, ctl_valued = help_options(main_help)
commands_text = main_help.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
usages, commands = [], set()
for line in commands_text.splitlines():
    if re.match(r"  [a-z]", line):
        usages.append(re.split(r"\s{2,}", line.strip())[0])
    elif re.match(r" {3,19}[\[-]", line) and usages:
        usages[-1] += " " + line.strip()
for usage in usages:
    for part in usage.split(","):
        commands.add(part.split()[0])
if not commands:
    problems.append("hearthctl --help lists no commands")

help_entries, help_opts = set(), {}
for usage in usages:
    for part in usage.split(","):
        entries_of(part, commands, help_entries, help_opts)
command_opts = {}
for cmd in sorted(commands):
    opts, _ = help_options(run(HEARTHCTL, cmd, "--help"))
    command_opts[cmd] = opts - ctl_global
for cmd in sorted(commands):
    compare(f"options of hearthctl {cmd}",
            {"hearthctl --help": help_opts.get(cmd, set()),
             f"hearthctl {cmd} --help": command_opts[cmd]})

man = man_sections(os.path.join(MAN, "hearthctl.1"))
man_entries, man_opts = set(), {}
for tag in man_tags(man.get("COMMANDS", [])):
    for part in tag.split(","):
        entries_of(part, commands, man_entries, man_opts)
man_global = set(OPTION.findall(" ".join(man_tags(man.get("OPTIONS", [])))))
man_synopsis = set(OPTION.findall(" ".join(roff_text(l) for l in man.get("SYNOPSIS", []))))

readme = read(README)
readme_entries, readme_opts, readme_global = set(), {}, set()
for block in code_blocks(readme):
    for line in block.splitlines():
        line = re.split(r"\s#", line)[0]
        words = line.split()
        if "hearthctl" not in words:
            continue
        words = words[words.index("hearthctl") + 1:]
        while words and words[0].startswith("--"):
            readme_global.add(words[0])
            words = words[2:] if words[0] in ctl_valued else words[1:]
        entries_of(" ".join(words), commands, readme_entries, readme_opts)

compare("hearthctl commands",
        {"hearthctl --help": help_entries, "hearthctl(1)": man_entries,
         "README": readme_entries})
for cmd in sorted(commands):
    compare(f"options of hearthctl {cmd}",
            {"hearthctl --help": help_opts.get(cmd, set()),
             "hearthctl(1)": man_opts.get(cmd, set()),
             "README": readme_opts.get(cmd, set())})
compare("hearthctl global options",
        {"hearthctl --help": ctl_global, "hearthctl(1) OPTIONS": man_global,
         "hearthctl(1) SYNOPSIS": man_synopsis, "README": readme_global})

# ---- hearthd ----

hearthd_opts, _ = help_options(run(HEARTHD, "--help"))
man = man_sections(os.path.join(MAN, "hearthd.8"))
man_opts = set(OPTION.findall(" ".join(man_tags(man.get("OPTIONS", [])))))
man_synopsis = set(OPTION.findall(" ".join(roff_text(l) for l in man.get("SYNOPSIS", []))))
readme_opts = set()
for block in code_blocks(readme_section(readme, "Run it your way")):
    if re.search(r"^hearthd \[", block, re.M):
        readme_opts |= set(OPTION.findall(block))
compare("hearthd options",
        {"hearthd --help": hearthd_opts, "hearthd(8) OPTIONS": man_opts,
         "hearthd(8) SYNOPSIS": man_synopsis, "README": readme_opts})

# ---- settings ----


def check_config(text):
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write(text)
    try:
        return run(HEARTHD, "--check-config", "--config", f.name)
    finally:
        os.unlink(f.name)


def known(message, pattern):
    m = re.search(pattern, message)
    if m is None:
        problems.append(f"hearthd --check-config did not list what it knows: {message.strip()}")
        return []
    return [w.strip() for w in m.group(1).split(",")]


def keys_by_section(pairs):
    return {f"[{s}] {k}" for s, k in pairs}


parser = set()
for section in known(check_config("[zz-no-such-section]\n"), r"unknown section \(known: ([^)]*)\)"):
    for key in known(check_config(f"[{section}]\nzz-no-such-key = 1\n"),
                     r"\(known in \[" + re.escape(section) + r"\]: ([^)]*)\)"):
        parser.add((section, key))
if not parser:
    problems.append("the config parser lists no settings")

packaged, section = set(), None
for line in read(CONF).splitlines():
    m = re.match(r"^\[([a-z-]+)\]", line)
    if m:
        section = m.group(1)
    m = re.match(r"^#?([a-z][a-z-]*) =", line)
    if m and section:
        packaged.add((section, m.group(1)))

man5 = set()
for title, lines in man_sections(os.path.join(MAN, "hearth.conf.5")).items():
    m = re.fullmatch(r"\[([a-z-]+)\]", title)
    if m:
        for tag in man_tags(lines):
            man5.add((m.group(1), tag.split()[0]))

readme_keys = set()
for block in re.findall(r"^```ini\n(.*?)^```", readme, re.S | re.M):
    section = None
    for line in block.splitlines():
        m = re.match(r"^\[([a-z-]+)\]", line)
        if m:
            section = m.group(1)
        m = re.match(r"^([a-z][a-z-]*) =", line)
        if m and section:
            readme_keys.add((section, m.group(1)))

compare("settings",
        {"the config parser": keys_by_section(parser),
         "packaging/hearth.conf": keys_by_section(packaged),
         "hearth.conf(5)": keys_by_section(man5),
         "README": keys_by_section(readme_keys)})

for p in problems:
    print("FAIL:", p)
print(f"# hearthctl: {len(help_entries)} commands, {len(ctl_global)} global options; "
      f"hearthd: {len(hearthd_opts)} options; {len(parser)} settings")
sys.exit(1 if problems else 0)
