# The two front-door commands (README): `make demo` and `make test`.
# Each sets up the cached environment first (tools/setup/setup_env.sh:
# idempotent; the first run builds mmcv, later runs take a second).
SETUP := bash tools/setup/setup_env.sh
DEMO_ARGS ?=
TEST_ARGS ?=

.PHONY: setup demo demo-maps parts-page test benchmark lab lab-quick

setup:
	@$(SETUP) >/dev/null

# The main job, on embedded data, on the CPU (~8 min once set up; tools/demo/run_demo.py):
# 1. synthetic scenes -> RATS register-query Mask2Former, untrained vs trained (mIoU; mask and box AP);
# 2. DINO pretraining of RATS and the ViT baseline on the bundled photos -> teacher extraction ->
#    Mask2Former fine-tuning -> part discovery on the synthetic scenes (M2O/O2O mIoU, ARI).
# One line per stage, a progress bar, the results; DEMO_ARGS=--verbose streams every log line.
demo:
	@PY=$$($(SETUP)) && $$PY tools/demo/run_demo.py $(DEMO_ARGS)

# One image through RATS-S/16 -> its register similarity maps as a PNG.
demo-maps:
	@PY=$$($(SETUP)) && $$PY tools/demo/register_maps.py $(DEMO_ARGS)

# The parts page (docs/part_discovery.md#the-parts-page): a local web page, http://127.0.0.1:7860 by default.
# Installs its own dependencies (requirements/page.txt) once; PAGE_ARGS=--port 8000, --checkpoint PATH, ...
parts-page:
	@PY=$$($(SETUP)) && bash tools/setup/install_page.sh $$PY && $$PY tools/analysis/parts_page.py $(PAGE_ARGS)

# The page's browser test needs its dependencies and Debian's chromium: installed here once (cached).
test:
	@PY=$$($(SETUP)) && bash tools/setup/install_page.sh $$PY --browser && $$PY -m pytest tests $(TEST_ARGS)

benchmark:
	@PY=$$($(SETUP)) && $$PY tools/analysis/benchmark.py $(BENCH_ARGS)

# The lab-scale experiment (docs/lab_scale.md): DINO of RATS / ViT / ViT+registers on the part objects.
lab:
	@PY=$$($(SETUP)) && $$PY tools/lab/lab_experiment.py --setting default --work-dir work_dirs/lab/default

lab-quick:
	@PY=$$($(SETUP)) && $$PY tools/lab/lab_experiment.py --setting quick --work-dir work_dirs/lab/quick
