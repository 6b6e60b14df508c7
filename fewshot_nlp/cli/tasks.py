"""``fewshot-nlp tasks info``: the sizes of a task set before anything trains on it."""

from __future__ import annotations

from .inputs import check_task_name


def tasks_info(args) -> int:
    """Sizes of a task set: classes and texts (and class groups), or Bible languages and verse pairs."""
    from ..tasks import load_task_set, read_bible

    task_set = read_bible(args.data) if args.name == "bible" else load_task_set(args.name, root=args.data)
    for key, value in task_set.info().items():
        print(f"{key:>18}: {value}")
    if hasattr(task_set, "split_classes") and len(task_set.classes) >= 3:
        split = task_set.split_classes(seed=0)
        sizes = ", ".join(f"{part} {len(classes)}" for part, classes in split.items())
        print(f"{'class split':>18}: {sizes} classes (class-disjoint 60/20/20, seed 0)")
    for group, classes in getattr(task_set, "groups", {}).items():
        print(f"{'group ' + group:>18}: {len(classes)} classes")
    return 0


def check_tasks_info(args) -> None:
    check_task_name(args.name, args.data)
