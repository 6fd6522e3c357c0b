"""`fetch-data`: fetch any missing file of a data set and verify all four."""

from tf1_lstm.cli import flags
from tf1_lstm.core import data, datasets


def register(commands):
    parser = commands.add_parser(
        "fetch-data", help="fetch and verify the data files (MNIST, or --dataset)",
        description="Fetch any missing file of the data set and verify all four.")
    flags.add_data(parser)
    parser.set_defaults(func=cmd_fetch_data)


def cmd_fetch_data(args):
    dataset = datasets.get(args.dataset)
    paths = data.ensure_files(args.data_dir or data.default_data_dir(dataset.name), args.mirrors,
                              dataset.name)
    for name, spec in dataset.files.items():
        data.load_idx(paths[name], spec, dataset)
        print("%s  ok  %s" % (spec.sha256, paths[name]))
    return 0
