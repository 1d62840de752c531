"""The TFLearn MNIST notebook on mnistmlp, end to end.

The first part is the notebook's code exactly as written for TFLearn, except for its two
imports (``mnistmlp.tflearn`` for ``tflearn``). The rest evaluates the trained network on
the 10,000 test images and shows a few of its predictions.

Run it with the MNIST files in a folder of your choice (or let it download them once into
~/.cache/mnistmlp/mnist)::

    MNISTMLP_DATA=/path/to/mnist python examples/train_mnist.py

See examples/README.md for what to expect.
"""

# ---- the notebook, unchanged but for the two imports --------------------------------------
import numpy as np
import mnistmlp.tflearn as tflearn
from mnistmlp.tflearn.datasets import mnist
mnist_data = mnist.read_data_sets(one_hot=True)
data_train, data_validation, data_test = mnist_data.train, mnist_data.validation, mnist_data.test
X, Y = data_train._images, data_train._labels
tflearn.init_graph(num_cores=4)
net = tflearn.input_data(shape=[None, 784])
net = tflearn.fully_connected(net, 100, activation='relu')
net = tflearn.fully_connected(net, 10, activation='softmax')
net = tflearn.regression(net, optimizer='sgd', loss='categorical_crossentropy')
model = tflearn.DNN(net)
model.fit(X, Y, n_epoch=1, batch_size=10, show_metric=True)

# ---- evaluation on the test set ----------------------------------------------------------
print()
accuracy = model.evaluate(data_test.images, data_test.labels)[0]
print(f"Test accuracy: {accuracy:.4f} on {data_test.num_examples:,} test images")

# ---- a few predictions -------------------------------------------------------------------
first = data_test.images[:10]
true = np.argmax(data_test.labels[:10], axis=1)
predicted = np.argmax(model.predict(first), axis=1)
print()
print("The first 10 test images:")
print("  true:      " + " ".join(str(d) for d in true))
print("  predicted: " + " ".join(str(d) for d in predicted))
print(f"  {int(np.sum(true == predicted))} of 10 right")


def ascii_digit(image: np.ndarray) -> str:
    """A 28x28 image (values in [0, 1]) drawn with characters, two per pixel for the aspect ratio."""
    shades = " .:-=+*#%@"
    lines = ["".join(shades[min(int(v * len(shades)), len(shades) - 1)] * 2 for v in row).rstrip()
             for row in image.reshape(28, 28)]
    while lines and not lines[0]:  # drop the empty rows above and below the digit
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join("|" + line for line in lines)


probabilities = model.predict(first[:1])[0]
print()
print(f"Test image 0 (true label {true[0]}, predicted {predicted[0]} with probability "
      f"{probabilities[predicted[0]]:.2f}):")
print(ascii_digit(first[0]))
