#!/usr/bin/env python3
"""receivers.py: sdq's rendered inputs judged by the rules of the programs that
receive them. Python 3 standard library only.

The rules below were written for this test from the receivers' own source
(read with the `fetch` tool; nothing of theirs is copied here):
  - runpod-python runpod/serverless/utils/rp_validator.py (validate): an
    unknown key is an error, a missing required key is an error, a missing
    optional key needs a default, an int is accepted where float is asked (not
    the reverse), a value matching the type of its default skips the type
    check, and every constraint must hold (also on the default);
  - worker-sdxl schemas.py (INPUT_SCHEMA) and handler.py make_scheduler();
  - worker-stable_diffusion_v1 src/rp_schema.py;
  - worker-a1111 src/handler.py (input passed to A1111 /sdapi/v1/txt2img as
    is) and A1111 v1.9's txt2img request model and sampler names;
  - ComfyUI's node definitions (nodes.py, comfy_extras) and
    execution.validate_inputs: every required input present, links to existing
    nodes, INT/FLOAT/STRING types and ranges, combo values from their lists;
  - A1111 modules/infotext_utils.py parse_generation_parameters (a reader
    written from its documented format).

usage: receivers.py HELPER EXAMPLES_DIR   (HELPER: build/tests/helper_render)
Prints "it_receivers: N passed, N failed".
"""
import json
import os
import re
import subprocess
import sys
import tempfile

HELPER = sys.argv[1]
EXAMPLES = sys.argv[2]
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + what)


def render(template, config_dir="", **kw):
    """(returncode, stdout, stderr) of helper_render input."""
    args = [HELPER, "input", template, config_dir]
    for k, v in kw.items():
        if isinstance(v, list):
            args += ["%s=%s" % (k, x) for x in v]
        else:
            args.append("%s=%s" % (k, v))
    r = subprocess.run(args, capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode("utf-8"), r.stderr.decode("utf-8", "replace")


# ---- runpod-python's validator, as rp_validator.validate() behaves ----

def rp_validate(raw, schema):
    errors = []
    for key in raw:
        if key not in schema:
            errors.append("Unexpected input. %s is not a valid input option." % key)
    validated = dict(raw)
    for key, rules in schema.items():
        if rules["required"] and key not in raw:
            errors.append("%s is a required input." % key)
        elif not rules["required"] and key not in raw:
            if "default" in rules:
                validated[key] = rules["default"]
            else:
                errors.append("Schema error, missing default value for %s." % key)
    for key, rules in schema.items():
        if key in validated:
            v = validated[key]
            if rules["type"] is float and type(v) in (int, float):
                v = validated[key] = float(v)
            skip = "default" in rules and isinstance(v, type(rules["default"]))
            if not skip and not isinstance(v, rules["type"]):
                errors.append("%s should be %s type, not %s." % (key, rules["type"], type(v)))
        if "constraints" in rules:
            try:
                ok = rules["constraints"](validated.get(key))
            except TypeError:
                ok = False
            if not ok:
                errors.append("%s does not meet the constraints." % key)
    return errors, validated


def opt(t, default, constraints=None):
    r = {"type": t, "required": False, "default": default}
    if constraints:
        r["constraints"] = constraints
    return r


# worker-sdxl schemas.py, as of its 2025-06 code (#25)
SDXL_SCHEMA = {
    "prompt": {"type": str, "required": False},  # no default: the validator refuses its absence
    "negative_prompt": opt(str, None),
    "height": opt(int, 1024),
    "width": opt(int, 1024),
    "seed": opt(int, None),
    "scheduler": opt(str, "DDIM"),
    "num_inference_steps": opt(int, 25),
    "refiner_inference_steps": opt(int, 50),
    "guidance_scale": opt(float, 7.5),
    "strength": opt(float, 0.3),
    "image_url": opt(str, None),
    "num_images": opt(int, 1, lambda n: 3 > n > 0),
    "high_noise_frac": opt(float, None),
}
# handler.py make_scheduler(): a dict lookup, anything else is a KeyError
SDXL_SCHEDULERS = ["PNDM", "KLMS", "DDIM", "K_EULER", "K_EULER_ANCESTRAL",
                   "DPMSolverMultistep", "DPMSolverSinglestep"]

SIZES15 = [128, 256, 384, 448, 512, 576, 640, 704, 768]
SD15_SCHEDULERS = ["DDIM", "DDPM", "DPM-M", "DPM-S", "EULER-A", "EULER-D", "HEUN", "IPNDM",
                   "KDPM2-A", "KDPM2-D", "PNDM", "K-LMS", "KLMS"]
# worker-stable_diffusion_v1 src/rp_schema.py
SD15_SCHEMA = {
    "prompt": {"type": str, "required": True},
    "negative_prompt": opt(str, None),
    "width": opt(int, 512, lambda w: w in SIZES15),
    "height": opt(int, 512, lambda h: h in SIZES15),
    "init_image": opt(str, None),
    "mask": opt(str, None),
    "prompt_strength": opt(float, 0.8, lambda v: 0 <= v <= 1),
    "num_outputs": opt(int, 1, lambda n: 10 > n > 0),
    "num_inference_steps": opt(int, 50, lambda n: 0 < n < 500),
    "guidance_scale": opt(float, 7.5, lambda g: 0 < g < 20),
    "scheduler": opt(str, "K-LMS", lambda s: s in SD15_SCHEDULERS),
    "seed": opt(int, None),
    "nsfw": opt(bool, False),
    "lora": opt(str, None),
    "lora_scale": opt(float, 1, lambda v: 0 <= v <= 1),
}

# A1111 v1.9 (worker-a1111 pins v1.9.3): txt2img fields sdq may send, their
# types, and the sampler names its API finds (a scheduler label may end one).
A1111_FIELDS = {"prompt": str, "negative_prompt": str, "width": int, "height": int,
                "steps": int, "cfg_scale": (int, float), "sampler_name": str,
                "batch_size": int, "seed": int, "scheduler": str, "n_iter": int}
A1111_SAMPLERS = ["DPM++ 2M", "DPM++ SDE", "DPM++ 2M SDE", "DPM++ 2M SDE Heun", "DPM++ 2S a",
                  "DPM++ 3M SDE", "Euler a", "Euler", "LMS", "Heun", "DPM2", "DPM2 a",
                  "DPM fast", "DPM adaptive", "Restart", "DDIM", "DDIM CFG++", "PLMS", "UniPC",
                  "LCM"]
A1111_SCHEDULERS = ["Automatic", "Uniform", "Karras", "Exponential", "Polyexponential",
                    "SGM Uniform"]


def a1111_errors(inp):
    errs = []
    for k, v in inp.items():
        t = A1111_FIELDS.get(k)
        if t is None:
            continue  # other txt2img fields exist; sdq only sends these
        if isinstance(v, bool) or not isinstance(v, t):
            errs.append("%s: wrong type %s" % (k, type(v).__name__))
    s = inp.get("sampler_name")
    if s is not None:
        base = s
        for sch in A1111_SCHEDULERS:
            if s.endswith(" " + sch) and s[:-len(sch) - 1] in A1111_SAMPLERS:
                base = s[:-len(sch) - 1]
        if base not in A1111_SAMPLERS:
            errs.append("Sampler not found")
    return errs


def worker_errors(template, inp):
    if template == "sdxl":
        errs, v = rp_validate(inp, SDXL_SCHEMA)
        if not errs and v["scheduler"] not in SDXL_SCHEDULERS:
            errs.append("KeyError: %r" % v["scheduler"])
        return errs
    if template == "sd15":
        return rp_validate(inp, SD15_SCHEMA)[0]
    if template == "a1111":
        return a1111_errors(inp)
    raise ValueError(template)


def loads_exact(text):
    """json.loads keeping numbers exact (ints are exact in Python already)."""
    return json.loads(text)


# ---- ComfyUI node definitions (required inputs and their kinds) ----

MAXRES = 16384
KSAMPLERS = ["euler", "euler_cfg_pp", "euler_ancestral", "euler_ancestral_cfg_pp", "heun",
             "heunpp2", "dpm_2", "dpm_2_ancestral", "lms", "dpm_fast", "dpm_adaptive",
             "dpmpp_2s_ancestral", "dpmpp_2s_ancestral_cfg_pp", "dpmpp_sde", "dpmpp_sde_gpu",
             "dpmpp_2m", "dpmpp_2m_cfg_pp", "dpmpp_2m_sde", "dpmpp_2m_sde_gpu",
             "dpmpp_2m_sde_heun", "dpmpp_2m_sde_heun_gpu", "dpmpp_3m_sde", "dpmpp_3m_sde_gpu",
             "ddpm", "lcm", "ipndm", "ipndm_v", "deis", "res_multistep", "res_multistep_cfg_pp",
             "res_multistep_ancestral", "res_multistep_ancestral_cfg_pp", "gradient_estimation",
             "gradient_estimation_cfg_pp", "er_sde", "seeds_2", "seeds_3", "sa_solver",
             "sa_solver_pece", "ddim", "uni_pc", "uni_pc_bh2"]
SCHEDULERS = ["simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal",
              "linear_quadratic", "kl_optimal"]
# (kind, range or list) per required input; "LINK:TYPE" inputs take a link
NODES = {
    "KSampler": ({"model": "LINK:MODEL", "seed": ("INT", 0, 2**64 - 1),
                  "steps": ("INT", 1, 10000), "cfg": ("FLOAT", 0.0, 100.0),
                  "sampler_name": ("COMBO", KSAMPLERS), "scheduler": ("COMBO", SCHEDULERS),
                  "positive": "LINK:CONDITIONING", "negative": "LINK:CONDITIONING",
                  "latent_image": "LINK:LATENT", "denoise": ("FLOAT", 0.0, 1.0)},
                 ["LATENT"]),
    "CheckpointLoaderSimple": ({"ckpt_name": ("STRING",)}, ["MODEL", "CLIP", "VAE"]),
    "EmptyLatentImage": ({"width": ("INT", 16, MAXRES), "height": ("INT", 16, MAXRES),
                          "batch_size": ("INT", 1, 4096)}, ["LATENT"]),
    "EmptySD3LatentImage": ({"width": ("INT", 16, MAXRES), "height": ("INT", 16, MAXRES),
                             "batch_size": ("INT", 1, 4096)}, ["LATENT"]),
    "CLIPTextEncode": ({"text": ("STRING",), "clip": "LINK:CLIP"}, ["CONDITIONING"]),
    "FluxGuidance": ({"conditioning": "LINK:CONDITIONING", "guidance": ("FLOAT", 0.0, 100.0)},
                     ["CONDITIONING"]),
    "VAEDecode": ({"samples": "LINK:LATENT", "vae": "LINK:VAE"}, ["IMAGE"]),
    "SaveImage": ({"images": "LINK:IMAGE", "filename_prefix": ("STRING",)}, []),
}
# the worker-comfyui image each example is for: its checkpoint file
CHECKPOINTS = {"comfyui-sdxl.json": "sd_xl_base_1.0.safetensors",
               "comfyui-flux1-dev-fp8.json": "flux1-dev-fp8.safetensors"}


def comfy_errors(workflow, ckpt):
    errs = []
    for nid, node in workflow.items():
        ct = node.get("class_type")
        if ct not in NODES:
            errs.append("%s: unknown node %r" % (nid, ct))
            continue
        inputs, _ = NODES[ct]
        given = node.get("inputs", {})
        for name, kind in inputs.items():
            if name not in given:
                errs.append("%s %s: Required input is missing: %s" % (nid, ct, name))
                continue
            v = given[name]
            if isinstance(kind, str):  # a link
                want = kind[5:]
                ok = (isinstance(v, list) and len(v) == 2 and isinstance(v[0], str)
                      and isinstance(v[1], int) and v[0] in workflow)
                if ok:
                    src = NODES.get(workflow[v[0]].get("class_type"), (None, []))[1]
                    ok = v[1] < len(src) and src[v[1]] == want
                if not ok:
                    errs.append("%s %s.%s: bad link %r" % (nid, ct, name, v))
            elif kind[0] == "INT":
                if isinstance(v, bool) or not isinstance(v, int) or not kind[1] <= v <= kind[2]:
                    errs.append("%s %s.%s: not an INT in range: %r" % (nid, ct, name, v))
            elif kind[0] == "FLOAT":
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not kind[1] <= v <= kind[2]:
                    errs.append("%s %s.%s: not a FLOAT in range: %r" % (nid, ct, name, v))
            elif kind[0] == "STRING":
                if not isinstance(v, str):
                    errs.append("%s %s.%s: not a STRING: %r" % (nid, ct, name, v))
            elif kind[0] == "COMBO":
                if v not in kind[1]:
                    errs.append("%s %s.%s: value not in list: %r" % (nid, ct, name, v))
        if ct == "CheckpointLoaderSimple" and given.get("ckpt_name") != ckpt:
            errs.append("%s: checkpoint %r is not the image's %r" % (nid, given.get("ckpt_name"), ckpt))
    if not any(n.get("class_type") == "SaveImage" for n in workflow.values()):
        errs.append("no output node")
    return errs


# ---- the built-in templates against each worker ----

SEED = 9007199254740993  # 2^53 + 1: not a double
CASES = [
    ("prompt only", {"prompt": "a fox", "seed": 7}),
    ("all parameters", {"prompt": "a fox", "negative": "blurry", "width": 512, "height": 768,
                        "steps": 30, "cfg": 6.5, "seed": SEED, "count": 2}),
    ("whole cfg", {"prompt": "a fox", "cfg": 7, "seed": 1}),
    ("unicode", {"prompt": "caf\u00e9 \u732b \U0001F98A \"q\"", "negative": "\u00fcgly", "seed": 2}),
]

for tname, nsamplers in (("sdxl", SDXL_SCHEDULERS), ("sd15", SD15_SCHEDULERS),
                         ("a1111", A1111_SAMPLERS)):
    for label, params in CASES:
        rc, out, err = render(tname, **params)
        check(rc == 0, "%s %s: rendered (%s)" % (tname, label, err.strip()))
        if rc:
            continue
        inp = loads_exact(out)
        errs = worker_errors(tname, inp)
        check(not errs, "%s %s: %s accepts it: %s" % (tname, label, tname, errs))
        seed_key = "seed"
        check(inp.get(seed_key) == params["seed"],
              "%s %s: seed arrives exact (%r)" % (tname, label, inp.get(seed_key)))
        if "prompt" in params:
            check(inp.get("prompt") == params["prompt"], "%s %s: prompt exact" % (tname, label))
    # every name of the worker's table and the common spellings
    for name in nsamplers + ["Euler a", "euler", "dpmpp_2m", "DPM++ 2M"]:
        rc, out, err = render(tname, prompt="x", sampler=name)
        if rc == 0:
            errs = worker_errors(tname, loads_exact(out))
            check(not errs, "%s sampler %r: accepted by the worker: %s" % (tname, name, errs))
        else:
            check(name not in nsamplers and rc == 2 and "valid:" in err,
                  "%s sampler %r: refused at submit only when the worker lacks it (%s)"
                  % (tname, name, err.strip()))
    # names the worker lacks are refused by sdq, never sent
    for name in ["heun", "dpm2", "dpm2 a", "dpm++ 2s a", "ddpm", "ipndm", "unipc", "lcm",
                 "DPM++ 2M Karras", "nonsense"]:
        rc, out, err = render(tname, prompt="x", sampler=name)
        if rc == 0:
            errs = worker_errors(tname, loads_exact(out))
            check(not errs, "%s sampler %r: sent, and the worker takes it: %s" % (tname, name, errs))
        else:
            check(rc == 2 and "valid:" in err, "%s sampler %r: refused with the list" % (tname, name))

# sd15 and sdxl cannot go without a prompt: sdq says so before sending
for tname in ("sd15", "sdxl"):
    rc, out, err = render(tname, seed=1)
    check(rc == 2 and "{{prompt}}" in err and "-p" in err,
          "%s without a prompt: a submit error naming it (%s)" % (tname, err.strip()))
    check(worker_errors(tname, {"seed": 1}) != [],
          "%s without a prompt: the worker would refuse it too" % tname)

# the case: an SDXL endpoint given sd15 keys fails; sdxl keys pass
rc, out, err = render("sd15", prompt="x", count=2)
check(any("num_outputs is not a valid input" in e for e in worker_errors("sdxl", loads_exact(out))),
      "sd15 keys on worker-sdxl: num_outputs is refused (the rule is live)")
rc, out, err = render("sdxl", prompt="x", count=2)
check(worker_errors("sdxl", loads_exact(out)) == [], "sdxl keys on worker-sdxl: accepted")

# ---- the example ComfyUI workflows, rendered through the comfyui template ----

for fname, ckpt in sorted(CHECKPOINTS.items()):
    path = os.path.join(EXAMPLES, fname)
    check(os.path.exists(path), "%s exists" % fname)
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    text = json.dumps(raw)
    for ph in ("seed", "steps", "cfg", "sampler", "width", "height", "count",
               "negative_prompt", "prompt"):
        check(("{{%s}}" % ph) in text or ("{{%s|" % ph) in text,
              "%s has a {{%s}} placeholder" % (fname, ph))
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, "templates"))
        with open(os.path.join(d, "templates", "comfyui.json"), "w", encoding="utf-8") as f:
            json.dump(raw, f)
        for label, params in [("prompt only", {"prompt": "a fox", "seed": 5}),
                              ("all parameters", {"prompt": "a fox", "negative": "blurry",
                                                  "width": 832, "height": 1216, "steps": 12,
                                                  "cfg": 4.5, "seed": SEED, "count": 2,
                                                  "sampler": "Euler a"}),
                              ("sampler by its ComfyUI name", {"prompt": "p", "seed": 1,
                                                               "sampler": "dpmpp_2m_sde_gpu"})]:
            rc, out, err = render("comfyui", d, **params)
            check(rc == 0, "%s %s: rendered (%s)" % (fname, label, err.strip()))
            if rc:
                continue
            inp = loads_exact(out)
            check(set(inp) == {"workflow"}, "%s %s: worker-comfyui input shape" % (fname, label))
            errs = comfy_errors(inp.get("workflow", {}), ckpt)
            check(not errs, "%s %s: ComfyUI validates it: %s" % (fname, label, errs))
            seeds = [n["inputs"]["seed"] for n in inp["workflow"].values()
                     if n["class_type"] == "KSampler"]
            check(seeds == [params["seed"]], "%s %s: seed exact %r" % (fname, label, seeds))
        rc, out, err = render("comfyui", d, seed=1)
        check(rc == 2 and "{{prompt}}" in err,
              "%s without a prompt: a submit error naming {{prompt}}" % fname)
        rc, out, err = render("comfyui", d, prompt="p", seed=1, sampler="PLMS")
        check(rc == 2 and "euler_ancestral" in err, "%s: PLMS refused with ComfyUI's list" % fname)
    # with the placeholders' values removed (as the issue's failing workflow
    # was sent), ComfyUI refuses it: the rules above are not vacuous
    broken = json.loads(text)
    for n in broken.values():
        n["inputs"] = {k: v for k, v in n["inputs"].items()
                       if not (isinstance(v, str) and v.startswith("{{") and "|" in v)}
    check(any("Required input is missing" in e for e in comfy_errors(broken, ckpt)),
          "%s: deleting the defaulted inputs would fail ComfyUI" % fname)

# ---- A1111's infotext reader (parse_generation_parameters, as documented) ----

RE_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
RE_SIZE = re.compile(r"^(\d+)x(\d+)$")


def a1111_parse(x):
    res = {}
    prompt = negative = ""
    done = False
    *lines, last = x.strip().split("\n")
    if len(RE_PARAM.findall(last)) < 3:
        lines.append(last)
        last = ""
    for line in lines:
        line = line.strip()
        if line.startswith("Negative prompt:"):
            done = True
            line = line[16:].strip()
        if done:
            negative += ("" if negative == "" else "\n") + line
        else:
            prompt += ("" if prompt == "" else "\n") + line
    res["Prompt"] = prompt
    res["Negative prompt"] = negative
    for k, v in RE_PARAM.findall(last):
        if v and v[0] == '"' and v[-1] == '"':
            try:
                v = json.loads(v)
            except ValueError:
                pass
        m = RE_SIZE.match(v)
        if m:
            res[k + "-1"], res[k + "-2"] = m.group(1), m.group(2)
        else:
            res[k] = v
    return res


def infotext(**kw):
    args = [HELPER, "a1111"] + ["%s=%s" % (k, v) for k, v in kw.items()]
    r = subprocess.run(args, capture_output=True, timeout=60)
    return r.stdout.decode("utf-8")


INFO_CASES = [
    ("prompt only", dict(prompt="a fox in snow", seed=42, width=512, height=512),
     {"Prompt": "a fox in snow", "Negative prompt": "", "Seed": "42", "Size-1": "512",
      "Size-2": "512"}),
    ("prompt, seed unknown, size", dict(prompt="a fox", seed=-1, width=64, height=32),
     {"Prompt": "a fox", "Seed": "-1", "Size-1": "64"}),
    ("nothing but a prompt", dict(prompt="lonely", seed=-1),
     {"Prompt": "lonely", "Negative prompt": "", "Seed": "-1"}),
    ("negative", dict(prompt="a fox", negative="blurry, low quality", seed=3, width=8,
                      height=8),
     {"Prompt": "a fox", "Negative prompt": "blurry, low quality", "Seed": "3"}),
    ("all parameters", dict(prompt="a fox, red", negative="ugly", steps=20, sampler="dpmpp_2m",
                            cfg=7.5, seed=SEED, width=1024, height=768),
     {"Prompt": "a fox, red", "Negative prompt": "ugly", "Steps": "20", "Sampler": "DPM++ 2M",
      "CFG scale": "7.5", "Seed": str(SEED), "Size-1": "1024", "Size-2": "768"}),
    ("unicode", dict(prompt="caf\u00e9 \u732b \U0001F98A", negative="\u00fcber", steps=4,
                     seed=9, width=16, height=16),
     {"Prompt": "caf\u00e9 \u732b \U0001F98A", "Negative prompt": "\u00fcber", "Steps": "4",
      "Seed": "9"}),
    ("multi-line prompt", dict(prompt="line one\nline two", seed=5, width=8, height=8),
     {"Prompt": "line one\nline two", "Seed": "5"}),
    ("a sampler with ',' and ':'", dict(prompt="p", sampler='raw:odd, one: "q"', seed=1,
                                        width=8, height=8),
     {"Prompt": "p", "Sampler": 'odd, one: "q"', "Seed": "1"}),
]
for label, kw, want in INFO_CASES:
    text = infotext(**kw)
    got = a1111_parse(text)
    last = text.strip().split("\n")[-1]
    check(len(RE_PARAM.findall(last)) >= 3, "infotext %s: the last line has 3 pairs: %r" % (label, last))
    for k, v in want.items():
        check(got.get(k) == v, "infotext %s: %s = %r (got %r)" % (label, k, v, got.get(k)))

print("it_receivers: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
