import pytest
import torch

from kpbottleneck.skeletons import (
    CAT_HEAD_FROM_9,
    FACE68,
    H36M17,
    H36M17_FROM_32,
    MPI_INF_3DHP,
    MPI_INF_3DHP_TO_H36M17,
    SIMPLIFIED_H36M,
    SKELETONS,
    Skeleton,
    get_skeleton,
)


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("simplified_h36m", 32),
        ("h36m17", 17),
        ("mpi_inf_3dhp", 28),
        ("face68", 68),
        ("cat_head", 7),
        ("synthetic", 17),
    ],
)
def test_builtin_sizes(name, count):
    skeleton = get_skeleton(name)
    assert skeleton.num_keypoints == count
    assert skeleton.edges, "every built-in skeleton is drawable"
    permutation = skeleton.flip_permutation
    assert [permutation[i] for i in permutation] == list(range(count))  # an involution


def test_flip_pairs_pair_left_with_right_names():
    for skeleton in (SIMPLIFIED_H36M, H36M17, MPI_INF_3DHP):
        for left, right in skeleton.flip_pairs:
            assert skeleton.keypoint_names[left].replace("left", "right") == skeleton.keypoint_names[right]
    assert len(SIMPLIFIED_H36M.flip_pairs) == 13


def test_dataset_orders():
    # Spot checks against the data sets' documented orders.
    assert SIMPLIFIED_H36M.index("right_wrist") == 27 and SIMPLIFIED_H36M.index("left_shoulder") == 17
    assert [SIMPLIFIED_H36M.keypoint_names[i] for i in H36M17_FROM_32][:4] == [
        "pelvis",
        "right_hip",
        "right_knee",
        "right_ankle",
    ]
    assert MPI_INF_3DHP.index("head_top") == 7 and MPI_INF_3DHP.index("right_toe") == 27
    mapped = [MPI_INF_3DHP.keypoint_names[i] for i in MPI_INF_3DHP_TO_H36M17]
    assert mapped[H36M17.index("left_wrist")] == "left_wrist"
    assert mapped[H36M17.index("right_knee")] == "right_knee"
    assert FACE68.normalizer == (36, 45)
    assert FACE68.keypoint_names[36] == "right_eye_0" and FACE68.keypoint_names[45] == "left_eye_3"
    assert len(CAT_HEAD_FROM_9) == 7


def test_flip_horizontal_is_an_involution_and_mirrors():
    keypoints = torch.rand(2, 17, 2) * 2 - 1
    skeleton = get_skeleton("synthetic")
    flipped = skeleton.flip_horizontal(keypoints)
    torch.testing.assert_close(skeleton.flip_horizontal(flipped), keypoints)
    left, right = skeleton.index("left_wrist"), skeleton.index("right_wrist")
    torch.testing.assert_close(flipped[:, left, 0], -keypoints[:, right, 0])


def test_validation_errors():
    with pytest.raises(ValueError, match=r"edges pair \(0, 3\) is out of range"):
        Skeleton("bad", ("a", "b"), ((0, 3),))
    with pytest.raises(ValueError, match="unique"):
        Skeleton("bad", ("a", "a"), ((0, 1),))
    with pytest.raises(ValueError, match="repeats"):
        Skeleton("bad", ("a", "b", "c"), ((0, 1),), flip_pairs=((0, 1), (1, 2)))
    with pytest.raises(ValueError, match="Unknown skeleton 'nope'"):
        get_skeleton("nope")
    with pytest.raises(KeyError, match="no keypoint"):
        SIMPLIFIED_H36M.index("tail")


def test_immutable_hashable_and_from_lists():
    custom = Skeleton("custom", ["a", "b", "c"], [[0, 1], [1, 2]], flip_pairs=[[0, 2]])
    assert custom.edges == ((0, 1), (1, 2))
    assert hash(custom) == hash(Skeleton("custom", ("a", "b", "c"), ((0, 1), (1, 2)), ((0, 2),)))
    with pytest.raises(AttributeError):
        custom.name = "other"
    assert get_skeleton(custom) is custom


def test_a_mapping_of_the_fields_is_a_skeleton_and_a_bad_one_is_named():
    # the form of a config file and of the hyper-parameters LightningCLI saves into a checkpoint
    fields = {
        "name": "custom",
        "keypoint_names": ["a", "b", "c"],
        "edges": [[0, 1], [1, 2]],
        "flip_pairs": [[0, 2]],
    }
    assert get_skeleton(fields) == Skeleton("custom", ("a", "b", "c"), ((0, 1), (1, 2)), ((0, 2),))
    with pytest.raises(ValueError, match=r"keys \['edges', 'name'\]: expected name, keypoint_names, edges"):
        get_skeleton({"name": "custom", "edges": []})
    with pytest.raises(ValueError, match="'colour'"):
        get_skeleton({**fields, "colour": "red"})
    assert set(SKELETONS) >= {"simplified_h36m", "face68", "synthetic"}
