"""One-off check of the shipped prior's forward kinematics against pybullet's own.

    pip install pybullet   # not a dependency: only this check needs it
    python benchmarks/mocap_fk_check.py [--frames 5]

Loads DeepMimic's humanoid in pybullet (DIRECT mode, no window), poses it with a few frames of every
``humanoid3d_*.txt`` clip, and compares the joint positions pybullet computes (``getLinkState`` link
frames) with :func:`datamodules.mocap.forward_kinematics`. Prints one JSON line: the largest and the
mean distance over all compared joints, in humanoid units and in % of the humanoid's height.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pybullet
import pybullet_data
import torch

from datamodules.mocap import _fields, forward_kinematics, read_humanoid, read_motion
from kpbottleneck.skeletons import H36M17

#: h36m17 joints that are URDF joints (the others are approximations with no pybullet counterpart)
COMPARED = {
    "hip": "root", "right_hip": "right_hip", "right_knee": "right_knee", "right_foot": "right_ankle",
    "left_hip": "left_hip", "left_knee": "left_knee", "left_foot": "left_ankle", "spine": "chest",
    "left_shoulder": "left_shoulder", "left_elbow": "left_elbow", "left_wrist": "left_wrist",
    "right_shoulder": "right_shoulder", "right_elbow": "right_elbow", "right_wrist": "right_wrist",
}  # fmt: skip
HEIGHT = 6.3  # humanoid units from ankle to head top, standing


def xyzw(wxyz: torch.Tensor) -> list[float]:
    w, x, y, z = wxyz.tolist()
    return [x, y, z, w]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=5, help="frames compared per clip, spread over it")
    args = parser.parse_args()
    root = Path(pybullet_data.getDataPath())
    offsets, head_radius = read_humanoid(root / "humanoid" / "humanoid.urdf")
    pybullet.connect(pybullet.DIRECT)
    humanoid = pybullet.loadURDF(
        str(root / "humanoid" / "humanoid.urdf"), useFixedBase=False, flags=pybullet.URDF_MAINTAIN_LINK_ORDER
    )
    index = {
        pybullet.getJointInfo(humanoid, j)[1].decode(): j for j in range(pybullet.getNumJoints(humanoid))
    }
    distances = []
    for clip in sorted((root / "data" / "motions").glob("humanoid3d_*.txt")):
        frames = read_motion(clip)
        rows = frames[torch.linspace(0, len(frames) - 1, args.frames).round().long()]
        ours = forward_kinematics(rows, offsets, head_radius)
        fields = _fields(rows)
        for t in range(len(rows)):
            pybullet.resetBasePositionAndOrientation(
                humanoid, fields["root_position"][t].tolist(), xyzw(fields["root"][t])
            )
            for name, link in index.items():
                if name not in fields:
                    continue
                if fields[name].shape[1] == 4:
                    pybullet.resetJointStateMultiDof(humanoid, link, targetValue=xyzw(fields[name][t]))
                else:
                    pybullet.resetJointState(humanoid, link, float(fields[name][t, 0]))
            for h36m, joint in COMPARED.items():
                if joint == "root":
                    theirs = pybullet.getBasePositionAndOrientation(humanoid)[0]
                else:
                    theirs = pybullet.getLinkState(humanoid, index[joint], computeForwardKinematics=True)[4]
                mine = ours[t, H36M17.index(h36m)]
                distances.append(float((mine - torch.tensor(theirs, dtype=mine.dtype)).norm()))
    distances = torch.tensor(distances)
    print(
        json.dumps(
            {
                "joints_compared": len(distances),
                "max_distance": round(float(distances.max()), 6),
                "mean_distance": round(float(distances.mean()), 6),
                "max_percent_of_height": round(float(distances.max()) / HEIGHT * 100, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
