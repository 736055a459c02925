# tui-phone: `make run` starts the phone, `make test` runs every test.
# The first interpreter that runs and is 3.11 or 3.12 (pyenv shims may exist but not run).
PY ?= $(shell for p in python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null \
	&& { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the tests drive for real (SIP peers, tmux for end-to-end).
APT_PEERS := kamailio kamailio-presence-modules baresip-core sip-tester tcpdump tmux xdg-utils libportaudio2 chromium pulseaudio pulseaudio-utils libasound2-plugins openssh-server openssh-client systemd libnotify-bin dbus
PEER_BINS := kamailio baresip sipp tmux xdg-mime chromium pulseaudio parec sshd ssh systemd-analyze notify-send dbus-daemon dbus-monitor

.PHONY: run test install install-test peers python-version clean

python-version:
	@test -n "$(PY)" || { echo "tui-phone needs Python 3.11 or 3.12 (the pjsua2-python wheel has no build for other versions); install one, or run: make PY=/path/to/python3.12 ..." >&2; exit 1; }
	@$(PY) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 11) <= v <= (3, 12) else "tui-phone needs Python 3.11 or 3.12 (the pjsua2-python wheel has no build for %d.%d); run: make PY=python3.12 ..." % v)'

$(BIN)/python: | python-version
	@$(PY) -m venv $(VENV) 2>/dev/null || { rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing python3-venv"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; \
	  fi; $(PY) -m venv $(VENV) || { echo "cannot create a virtualenv: install python3-venv (Debian/Ubuntu)" >&2; exit 1; }; }
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e . --config-settings editable_mode=compat
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]' --config-settings editable_mode=compat
	@touch $@ $(VENV)/.installed

# Bytecode for the package: with PYTHONDONTWRITEBYTECODE=1 (set on some machines) every start would
# otherwise recompile it (~150 ms). compileall only rewrites what changed.
install: python-version $(VENV)/.installed
	@$(BIN)/python -m compileall -q tui_phone

install-test: python-version $(VENV)/.installed-test
	@$(BIN)/python -m compileall -q tui_phone

run: install
	$(BIN)/tui-phone $(ARGS)

# Real SIP peers for the contract tests; installed when root (CI, fresh Debian).
peers:
	@missing=""; for b in $(PEER_BINS); do command -v $$b >/dev/null || missing="$$missing $$b"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "installing test peers:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PEERS) >/dev/null; \
	else \
		echo "missing test peers:$$missing (run as root, or: sudo apt-get install $(APT_PEERS))"; \
	fi

# The suite runs in two parts: most tests in parallel (real peers on their own ports), then the
# ones that measure time or sound alone. PYTEST_ARGS runs a subset instead, in one process.
# A worker that crashes ends the run at once: xdist 3.8 replacing it under --dist loadfile can wait forever
# (pytest-xdist#1323/#1327), and a test that hangs is cut after 5 minutes (pytest-timeout, pyproject.toml).
JOBS ?= 4
test: install-test peers
ifeq ($(PYTEST_ARGS),)
	$(BIN)/python -m pytest -q -n $(JOBS) --dist loadfile --max-worker-restart 0 -m "not serial"
	$(BIN)/python -m pytest -q -m serial
else
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)
endif

clean:
	rm -rf $(VENV) .pytest_cache
