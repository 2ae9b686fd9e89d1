"""Skeletons: the keypoint set of a data set, as one immutable object.

A :class:`Skeleton` names the keypoints, the edges the renderer β draws, the left/right pairs a
horizontal flip swaps, and the two keypoints whose distance normalises the evaluation error (the
outer eye corners of a face, say). Every data set, renderer, metric and plot takes them from here.

Built-in definitions, fetched with :func:`get_skeleton`:

``simplified_h36m``
    The 32 joints of Human3.6M in the order of the data set's own skeleton files (``Hips, RightUpLeg,
    RightLeg, RightFoot, RightToeBase, Site, LeftUpLeg, ...``), which is the order of the
    ``keypoints_2d`` arrays of Simplified Human3.6M (Zhang et al. 2018). Its edges are the 16 limbs
    that the original KeypointGAN implementation renders for this data set (pelvis→hips→knees→ankles→toes,
    spine→neck→head top, neck→shoulders→elbows→wrists); joints on no edge are still predicted and
    evaluated, as in the paper ("error for all 32 joints").
``h36m17``
    The 17 joints evaluated on Human3.6M (Martinez et al. 2017 order: Hip, RHip, RKnee, RFoot, LHip,
    LKnee, LFoot, Spine, Thorax, Neck/Nose, Head, LShoulder, LElbow, LWrist, RShoulder, RElbow, RWrist);
    :data:`H36M17_FROM_32` selects them from the 32-joint order.
``mpi_inf_3dhp``
    The 28 joints of MPI-INF-3DHP in the order of its ``annot.mat`` files (``mpii_get_joint_set('all')``:
    spine3, spine4, spine2, spine, pelvis, neck, head, head_top, left_clavicle, ...);
    :data:`MPI_INF_3DHP_TO_H36M17` gives the 17 joints it shares with Human3.6M.
``face68``
    The 68 iBUG / 300-W facial landmarks (Sagonas et al. 2013), 0-based: jaw 0-16, right brow 17-21,
    left brow 22-26, nose 27-35, right eye 36-41, left eye 42-47, outer lips 48-59, inner lips 60-67
    ("right" is the subject's right). Normaliser: the outer eye corners 36 and 45 (1-based 37 and 46).
``cat_head``
    7 of the 9 points of the CAT head data set (Zhang, Sun & Tang 2008; file order: left eye, right eye,
    mouth, left ear 1-3, right ear 1-3; each ear runs outer base, tip, inner base). DESIGN: the paper
    says only that 7 landmarks are used; we keep the eyes, the mouth, both ear tips and both inner ear
    bases (:data:`CAT_HEAD_FROM_9`) and drop the two outer ear bases, which lie on the head's contour
    and are the least consistently annotated and least visible in profile. Normaliser: the eyes.
``penn_action``
    The 13 joints of PennAction (Zhang, Zhu & Derpanis 2013) in the order of its ``labels/*.mat`` ``x`` /
    ``y`` columns: head, left/right shoulder, elbow, wrist, hip, knee, ankle.
``synthetic``
    The articulated figure of the built-in synthetic data set (17 keypoints).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor


@dataclass(frozen=True)
class Skeleton:
    """An immutable keypoint set: names, edges (index pairs), left/right pairs and the error normaliser.

    Args:
        name: short identifier, e.g. ``"face68"``.
        keypoint_names: one name per keypoint, in the data set's order.
        edges: ``(i, j)`` index pairs that the renderer draws as segments.
        flip_pairs: ``(left, right)`` index pairs exchanged by a horizontal flip.
        normalizer: two keypoint indices whose distance normalises the error (``None``: image size).

    Example: a three-point arm; a horizontal flip exchanges the two hands.
        >>> arm = Skeleton("arm", ("left_hand", "neck", "right_hand"), ((0, 1), (1, 2)), ((0, 2),))
        >>> arm.num_keypoints, arm.flip_permutation, arm.index("neck")
        (3, (2, 1, 0), 1)
    """

    name: str
    keypoint_names: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    flip_pairs: tuple[tuple[int, int], ...] = ()
    normalizer: tuple[int, int] | None = None
    _flip_permutation: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Normalise lists (from YAML / JSON configs) to tuples so the object stays hashable.
        object.__setattr__(self, "keypoint_names", tuple(self.keypoint_names))
        object.__setattr__(self, "edges", tuple((int(i), int(j)) for i, j in self.edges))
        object.__setattr__(self, "flip_pairs", tuple((int(i), int(j)) for i, j in self.flip_pairs))
        if self.normalizer is not None:
            object.__setattr__(self, "normalizer", tuple(int(i) for i in self.normalizer))
        k = len(self.keypoint_names)
        if k == 0:
            raise ValueError(f"Skeleton {self.name!r}: keypoint_names is empty; expected at least one name")
        if len(set(self.keypoint_names)) != k:
            raise ValueError(f"Skeleton {self.name!r}: keypoint_names must be unique")
        for field_name, pairs in (("edges", self.edges), ("flip_pairs", self.flip_pairs)):
            for i, j in pairs:
                if not (0 <= i < k and 0 <= j < k):
                    raise ValueError(
                        f"Skeleton {self.name!r}: {field_name} pair ({i}, {j}) is out of range; "
                        f"expected indices in [0, {k})"
                    )
        if self.normalizer is not None and (
            len(self.normalizer) != 2 or not all(0 <= i < k for i in self.normalizer)
        ):
            raise ValueError(
                f"Skeleton {self.name!r}: normalizer {self.normalizer} must be two indices in [0, {k})"
            )
        permutation = list(range(k))
        for left, right in self.flip_pairs:
            if permutation[left] != left or permutation[right] != right:
                raise ValueError(f"Skeleton {self.name!r}: keypoint in flip pair ({left}, {right}) repeats")
            permutation[left], permutation[right] = right, left
        object.__setattr__(self, "_flip_permutation", tuple(permutation))

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    @property
    def flip_permutation(self) -> tuple[int, ...]:
        """Index permutation that exchanges every left keypoint with its right partner."""
        return self._flip_permutation

    def subset(self, indices: Sequence[int], name: str | None = None) -> Skeleton:
        """The skeleton of the keypoints ``indices`` (in that order): edges, flip pairs and normaliser whose
        keypoints are all kept, re-indexed."""
        position = {int(old): new for new, old in enumerate(indices)}
        if len(position) != len(indices) or not all(0 <= i < self.num_keypoints for i in position):
            raise ValueError(
                f"Skeleton {self.name!r}: subset indices {list(indices)} must be unique "
                f"and in [0, {self.num_keypoints})"
            )

        def kept(pairs: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
            return tuple((position[i], position[j]) for i, j in pairs if i in position and j in position)

        normalizer = kept([self.normalizer]) if self.normalizer is not None else ()
        return Skeleton(
            name=name or f"{self.name}[{len(position)}]",
            keypoint_names=tuple(self.keypoint_names[i] for i in position),
            edges=kept(self.edges),
            flip_pairs=kept(self.flip_pairs),
            normalizer=normalizer[0] if normalizer else None,
        )

    def index(self, name: str) -> int:
        """Index of the keypoint called ``name``."""
        try:
            return self.keypoint_names.index(name)
        except ValueError:
            raise KeyError(f"Skeleton {self.name!r} has no keypoint {name!r}") from None

    def edge_tensor(self, device: torch.device | None = None) -> Tensor:
        """Edges as a ``(E, 2)`` long tensor."""
        return torch.tensor(self.edges, dtype=torch.long, device=device).reshape(-1, 2)

    def swap_left_right(self, keypoints: Tensor) -> Tensor:
        """Exchange left and right keypoints of ``(..., K, D)`` without moving them."""
        return keypoints[..., list(self.flip_permutation), :]

    def flip_horizontal(self, keypoints: Tensor) -> Tensor:
        """Keypoints ``(..., K, 2)`` (normalised) of the horizontally mirrored image."""
        mirrored = keypoints * keypoints.new_tensor([-1.0, 1.0])
        return self.swap_left_right(mirrored)


def _chain(*indices: int) -> list[tuple[int, int]]:
    return list(itertools.pairwise(indices))


def _loop(*indices: int) -> list[tuple[int, int]]:
    return [*_chain(*indices), (indices[-1], indices[0])]


def _pairs_by_prefix(names: tuple[str, ...], left: str, right: str) -> tuple[tuple[int, int], ...]:
    index = {n: i for i, n in enumerate(names)}
    return tuple(
        (i, index[right + n[len(left) :]])
        for i, n in enumerate(names)
        if n.startswith(left) and right + n[len(left) :] in index
    )


# fmt: off
_H36M32_NAMES = (
    "pelvis", "right_hip", "right_knee", "right_ankle", "right_toe_base", "right_toe_end",
    "left_hip", "left_knee", "left_ankle", "left_toe_base", "left_toe_end",
    "spine", "thorax", "neck", "head", "head_top",
    "left_clavicle", "left_shoulder", "left_elbow", "left_wrist", "left_thumb", "left_thumb_end",
    "left_hand", "left_hand_end",
    "right_clavicle", "right_shoulder", "right_elbow", "right_wrist", "right_thumb", "right_thumb_end",
    "right_hand", "right_hand_end",
)

SIMPLIFIED_H36M = Skeleton(
    name="simplified_h36m",
    keypoint_names=_H36M32_NAMES,
    edges=(
        (1, 11), (2, 1), (3, 2), (5, 3),
        (6, 11), (7, 6), (8, 7), (10, 8),
        (13, 11), (15, 13),
        (17, 13), (18, 17), (19, 18),
        (25, 13), (26, 25), (27, 26),
    ),
    flip_pairs=_pairs_by_prefix(_H36M32_NAMES, "left_", "right_"),
)

H36M17_FROM_32: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
"""Indices of the 17 evaluated Human3.6M joints within the 32-joint order."""

_H36M17_NAMES = (
    "hip", "right_hip", "right_knee", "right_foot", "left_hip", "left_knee", "left_foot",
    "spine", "thorax", "neck_nose", "head",
    "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
)

H36M17 = Skeleton(
    name="h36m17",
    keypoint_names=_H36M17_NAMES,
    edges=(
        *_chain(0, 1, 2, 3), *_chain(0, 4, 5, 6), *_chain(0, 7, 8, 9, 10),
        *_chain(8, 11, 12, 13), *_chain(8, 14, 15, 16),
    ),
    flip_pairs=_pairs_by_prefix(_H36M17_NAMES, "left_", "right_"),
)

_MPI_INF_3DHP_NAMES = (
    "spine3", "spine4", "spine2", "spine", "pelvis", "neck", "head", "head_top",
    "left_clavicle", "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_clavicle", "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot", "left_toe",
    "right_hip", "right_knee", "right_ankle", "right_foot", "right_toe",
)

MPI_INF_3DHP = Skeleton(
    name="mpi_inf_3dhp",
    keypoint_names=_MPI_INF_3DHP_NAMES,
    edges=(
        *_chain(4, 3, 2, 0, 1, 5, 6, 7),
        *_chain(5, 8, 9, 10, 11, 12), *_chain(5, 13, 14, 15, 16, 17),
        *_chain(4, 18, 19, 20, 21, 22), *_chain(4, 23, 24, 25, 26, 27),
    ),
    flip_pairs=_pairs_by_prefix(_MPI_INF_3DHP_NAMES, "left_", "right_"),
)

MPI_INF_3DHP_TO_H36M17: tuple[int, ...] = (4, 23, 24, 25, 18, 19, 20, 3, 5, 6, 7, 9, 10, 11, 14, 15, 16)
"""For each of the 17 :data:`H36M17` joints, the MPI-INF-3DHP joint that stands for it."""

_FACE68_NAMES = tuple(
    [f"jaw_{i}" for i in range(17)]
    + [f"right_brow_{i}" for i in range(5)]
    + [f"left_brow_{i}" for i in range(5)]
    + [f"nose_bridge_{i}" for i in range(4)]
    + [f"nose_base_{i}" for i in range(5)]
    + [f"right_eye_{i}" for i in range(6)]
    + [f"left_eye_{i}" for i in range(6)]
    + [f"outer_lip_{i}" for i in range(12)]
    + [f"inner_lip_{i}" for i in range(8)]
)

FACE68 = Skeleton(
    name="face68",
    keypoint_names=_FACE68_NAMES,
    edges=(
        *_chain(*range(0, 17)), *_chain(*range(17, 22)), *_chain(*range(22, 27)),
        *_chain(*range(27, 31)), *_chain(30, 33), *_chain(*range(31, 36)),
        *_loop(*range(36, 42)), *_loop(*range(42, 48)), *_loop(*range(48, 60)), *_loop(*range(60, 68)),
    ),
    flip_pairs=(
        *[(i, 16 - i) for i in range(8)],
        (17, 26), (18, 25), (19, 24), (20, 23), (21, 22),
        (31, 35), (32, 34),
        (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),
        (48, 54), (49, 53), (50, 52), (55, 59), (56, 58),
        (60, 64), (61, 63), (65, 67),
    ),
    normalizer=(36, 45),
)

CAT_HEAD_FROM_9: tuple[int, ...] = (0, 1, 2, 4, 5, 6, 7)
"""Indices of the 7 :data:`CAT_HEAD` points within the 9 points of a CAT ``.cat`` file."""

CAT_HEAD = Skeleton(
    name="cat_head",
    keypoint_names=(
        "left_eye", "right_eye", "mouth",
        "left_ear_tip", "left_ear_inner", "right_ear_inner", "right_ear_tip",
    ),
    edges=((0, 1), (0, 2), (1, 2), (0, 3), (3, 4), (4, 5), (5, 6), (6, 1)),
    flip_pairs=((0, 1), (3, 6), (4, 5)),
    normalizer=(0, 1),
)

_SYNTHETIC_NAMES = (
    "head_top", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "pelvis",
    "right_hip", "right_knee", "right_ankle", "right_toe",
    "left_hip", "left_knee", "left_ankle", "left_toe",
)

SYNTHETIC = Skeleton(
    name="synthetic",
    keypoint_names=_SYNTHETIC_NAMES,
    edges=(
        (0, 1), (1, 8),
        *_chain(1, 2, 3, 4), *_chain(1, 5, 6, 7),
        *_chain(8, 9, 10, 11, 12), *_chain(8, 13, 14, 15, 16),
    ),
    flip_pairs=_pairs_by_prefix(_SYNTHETIC_NAMES, "left_", "right_"),
)

_PENN_ACTION_NAMES = (
    "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)

PENN_ACTION = Skeleton(
    name="penn_action",
    keypoint_names=_PENN_ACTION_NAMES,
    edges=(
        (0, 1), (0, 2), (1, 2), *_chain(1, 3, 5), *_chain(2, 4, 6),
        (1, 7), (2, 8), (7, 8), *_chain(7, 9, 11), *_chain(8, 10, 12),
    ),
    flip_pairs=_pairs_by_prefix(_PENN_ACTION_NAMES, "left_", "right_"),
)

# fmt: on

SKELETONS: dict[str, Skeleton] = {
    s.name: s for s in (SIMPLIFIED_H36M, H36M17, MPI_INF_3DHP, FACE68, CAT_HEAD, PENN_ACTION, SYNTHETIC)
}


def get_skeleton(skeleton: str | Skeleton | Mapping[str, Any]) -> Skeleton:
    """The built-in skeleton called ``skeleton``, ``skeleton`` itself when it already is one, or the
    skeleton of a mapping of :class:`Skeleton`'s fields (the form a config file, and the hyper-parameters
    LightningCLI saves into a checkpoint, hold a user's keypoint set in).

    Example:
        >>> get_skeleton("face68").num_keypoints, get_skeleton("face68").normalizer
        (68, (36, 45))
        >>> get_skeleton({"name": "arm", "keypoint_names": ["hand", "elbow"], "edges": [[0, 1]]}).edges
        ((0, 1),)
    """
    if isinstance(skeleton, Skeleton):
        return skeleton
    if isinstance(skeleton, Mapping):
        fields = {"name", "keypoint_names", "edges", "flip_pairs", "normalizer"}
        unknown = sorted(set(skeleton) - fields)
        if unknown or not {"name", "keypoint_names", "edges"} <= set(skeleton):
            raise ValueError(
                f"skeleton mapping with keys {sorted(skeleton)}: expected name, keypoint_names, edges "
                f"and optionally flip_pairs, normalizer"
            )
        return Skeleton(**skeleton)
    try:
        return SKELETONS[skeleton]
    except KeyError:
        raise ValueError(
            f"Unknown skeleton {skeleton!r}; expected one of {sorted(SKELETONS)} or a Skeleton"
        ) from None


def check_data_skeleton(model: Skeleton, trainer: Any) -> None:
    """Raise a ``ValueError``, before any training, when the Trainer's data module provides poses of
    another skeleton than the model's ``model`` (its prior and labels would be read as the wrong joints).
    Data modules without a ``skeleton`` (images to predict on) are not checked.

    Example:
        >>> from types import SimpleNamespace
        >>> trainer = SimpleNamespace(datamodule=SimpleNamespace(skeleton=get_skeleton("synthetic")))
        >>> check_data_skeleton(get_skeleton("synthetic"), trainer)  # the same: nothing to say
        >>> check_data_skeleton(get_skeleton("face68"), trainer)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: the data module's poses are of skeleton 'synthetic' (17 keypoints) and ...
    """
    data = getattr(getattr(trainer, "datamodule", None), "skeleton", None)
    if data is not None and (data.name, data.num_keypoints) != (model.name, model.num_keypoints):
        raise ValueError(
            f"the data module's poses are of skeleton {data.name!r} ({data.num_keypoints} keypoints) and "
            f"model.init_args.skeleton is {model.name!r} ({model.num_keypoints} keypoints): set both to "
            f"the same skeleton"
        )
