"""Drives a Corral dev cluster through simple_slurm (PyPI), unmodified.

simple_slurm builds a batch script from keyword arguments, pipes it into
`sbatch` on stdin, parses "Submitted batch job N" (or --parsable), reads
the queue with `squeue --me -o <CSV format>` and cancels with `scancel`.
Prints one line per check; any failure raises.
"""

import os
import sys
import time

from simple_slurm import Slurm

work = sys.argv[1]


def queue():
    slurm = Slurm()
    slurm.squeue.update_squeue()
    return slurm.squeue.jobs


def wait_gone(job_id, limit=120):
    deadline = time.time() + limit
    while time.time() < deadline:
        if job_id not in queue():
            return
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still queued after {limit}s")


# A plain job, submitted through sbatch's stdin, output file by pattern.
slurm = Slurm(job_name="simple", ntasks=1, cpus_per_task=1, time="0:05:00",
              output=f"{work}/simple-{Slurm.JOB_ID}.out", chdir=work)
job_id = slurm.sbatch("echo hello from $SLURM_JOB_NAME on $SLURMD_NODENAME")
print(f"submitted {job_id}")
wait_gone(job_id)
with open(f"{work}/simple-{job_id}.out") as out:
    text = out.read()
assert text.startswith("hello from simple on node"), text
print("ran:", text.strip())

# A held job shows in the queue with its name and state, then is cancelled.
held = Slurm(job_name="held-one", hold=True, chdir=work)
held_id = held.sbatch("true")
jobs = queue()
assert held_id in jobs, jobs
row = jobs[held_id]
assert row["NAME"] == "held-one" and row["ST"] == "PD", row
assert row["NODELIST(REASON)"] == "(JobHeldUser)", row
print("queued:", row)
held.scancel.cancel_job(held_id)
wait_gone(held_id)
print("cancelled", held_id)

# --parsable goes through the other parsing path of simple_slurm.
parsable = Slurm(job_name="parsable", parsable=True, chdir=work)
parsable_id = parsable.sbatch("true")
assert parsable_id > held_id, (parsable_id, held_id)
wait_gone(parsable_id)
print("parsable", parsable_id)

# An array (from a Python range) and a job that depends on all its tasks
# (from a dict). simple_slurm's queue parser reads JOBID as an integer, so
# it cannot list array rows (`14_[1-3]`) with real Slurm either: wait on
# files instead.
array = Slurm(job_name="arr", array=range(1, 4), chdir=work,
              output=f"{work}/arr-{Slurm.JOB_ARRAY_MASTER_ID}_{Slurm.JOB_ARRAY_ID}.out")
array_id = array.sbatch("sleep 1; echo task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID")
after = Slurm(job_name="after-arr", dependency=dict(afterok=array_id), chdir=work,
              output="/dev/null")
after.sbatch(f"cat {work}/arr-{array_id}_*.out | sort > {work}/after")
deadline = time.time() + 120
while not os.path.exists(f"{work}/after") and time.time() < deadline:
    time.sleep(0.2)
time.sleep(0.5)
with open(f"{work}/after") as out:
    lines = out.read().splitlines()
assert lines == [f"task {n} of {array_id}" for n in (1, 2, 3)], lines
print("array and dependency:", lines)
print("ok")
