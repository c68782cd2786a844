"""The small CPU configuration learns on a synthetic world (a few minutes on 2 cores)."""

import pytest

from reid.config import load_config
from tests.conftest import CONFIG_DIR


@pytest.mark.slow
def test_small_model_learns_on_the_synthetic_world(tmp_path_factory):
    from pipeline.synthetic import WorldConfig, generate_world
    from train.datasets import load_dataset
    from train.trainer import Trainer

    world = tmp_path_factory.mktemp("world") / "w"
    generate_world(world, WorldConfig(cameras=3, identities=40, seconds=60, fps=10, seed=0, write_videos=False), progress=False)
    config = load_config(CONFIG_DIR / "model" / "small_synthetic.yaml")
    config.train.num_workers = 2
    trainer = Trainer(
        config,
        load_dataset("synthetic", world),
        tmp_path_factory.mktemp("run"),
        test_dataset=load_dataset("synthetic_occluded", world),
        device="cpu",
        progress=False,
    )
    before = trainer.evaluate()
    summaries = trainer.fit(6, evaluate_at_end=False)
    after = trainer.evaluate()

    assert after.visible_parts.rank1 >= 2 * before.visible_parts.rank1
    assert after.visible_parts.rank1 > before.visible_parts.rank1
    assert after.visible_parts.mAP > before.visible_parts.mAP
    first, last = summaries[0].losses, summaries[-1].losses
    assert last["total"] < first["total"]
    assert last["parts_triplet"] < first["parts_triplet"] and last["part_attention"] < first["part_attention"]
