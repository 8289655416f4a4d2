"""The Train tab path vs plain ``model.fit`` (bench_train.py) while the Runs page follows
the run being trained: live follow must cost training nothing measurable (ratio >= 0.95)."""

from __future__ import annotations

from bench import bench_train


def main() -> None:
    bench_train.main(follow=True)


if __name__ == "__main__":
    main()
