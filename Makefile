# The two front-door commands (README): `make demo` and `make test`.
# Each sets up the cached environment first (tools/setup/setup_env.sh:
# idempotent; the first run builds mmcv, later runs take a second).
SETUP := bash tools/setup/setup_env.sh
DEMO_ARGS ?=
TEST_ARGS ?=

.PHONY: setup demo demo-maps test benchmark

setup:
	@$(SETUP) >/dev/null

# The main job: synthetic scenes -> RATS register-query Mask2Former, untrained vs trained
# (mIoU; mask and box AP), on the CPU in a few minutes.
demo:
	@PY=$$($(SETUP)) && $$PY tools/demo/mask2former_demo.py $(DEMO_ARGS)

# One image through RATS-S/16 -> its register similarity maps as a PNG.
demo-maps:
	@PY=$$($(SETUP)) && $$PY tools/demo/register_maps.py $(DEMO_ARGS)

test:
	@PY=$$($(SETUP)) && $$PY -m pytest tests $(TEST_ARGS)

benchmark:
	@PY=$$($(SETUP)) && $$PY tools/analysis/benchmark.py $(BENCH_ARGS)
