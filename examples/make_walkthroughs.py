"""Write the two walkthrough notebooks of this folder (their cells are here as text).

Each follows one of the classic "colour compression with K-means" walkthroughs, with
their code unchanged but for ``from kpalette import KMeans`` in place of
``from sklearn.cluster import KMeans`` (``%pylab inline`` made an import, and one
``.tolist()`` that NumPy 2 needs, said in the notebook), on the
CC0 photos in ``images/``. The cells marked "check" assert what the cells before them
show; the test suite runs both notebooks.

    python3 examples/make_walkthroughs.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

COLOR_COMPRESSION = [
    (
        "md",
        """# Use K-means for colour compression, with kpalette

The classic follow-along guide, cell for cell, with one change: `KMeans` comes from
kpalette instead of scikit-learn. kpalette's `KMeans` has scikit-learn's constructor,
methods and fitted attributes, clusters the distinct colours weighted by their pixel
counts (the same objective), and is many times faster on photos. The photo is
`images/coffee.jpg` (scikit-image's coffee photo by Rachel Michetti, CC0).""",
    ),
    (
        "code",
        """import numpy as np
import pandas as pd

import matplotlib
import matplotlib.pyplot as plt
import plotly.graph_objects as go
from kpalette import KMeans""",
    ),
    ("md", "## Read in data"),
    (
        "code",
        """# Read in a photo
img = plt.imread('images/coffee.jpg')""",
    ),
    (
        "code",
        """# Display the photo and its shape
print(img.shape)
plt.imshow(img)
plt.axis('off');""",
    ),
    (
        "code",
        """# Reshape the image so that each row represents a single pixel
# defined by three values: R, G, B
img_flat = img.reshape(img.shape[0]*img.shape[1], 3)
img_flat[:5, :]""",
    ),
    ("code", "img_flat.shape"),
    ("md", "## Plot the data in 3-D space"),
    (
        "code",
        """# Create a pandas df with r, g, and b as columns
img_flat_df = pd.DataFrame(img_flat, columns = ['r', 'g', 'b'])
img_flat_df.head()""",
    ),
    (
        "code",
        """# Create 3D plot where each pixel in the `img` is displayed in its actual color
trace = go.Scatter3d(x = img_flat_df.r,
                     y = img_flat_df.g,
                     z = img_flat_df.b,
                     mode='markers',
                     marker=dict(size=1,
                                 color=['rgb({},{},{})'.format(r,g,b) for r,g,b
                                        in zip(img_flat_df.r.values,
                                               img_flat_df.g.values,
                                               img_flat_df.b.values)],
                                 opacity=0.5))
data = [trace]
layout = go.Layout(margin=dict(l=0,
                               r=0,
                               b=0,
                               t=0),
                   )
fig = go.Figure(data=data, layout=layout)
fig.update_layout(scene = dict(
                    xaxis_title='R',
                    yaxis_title='G',
                    zaxis_title='B'),
                  )
fig.show()""",
    ),
    ("md", "## Cluster the data: k = 1"),
    (
        "code",
        """# Instantiate the model
kmeans = KMeans(n_clusters=1, random_state=42).fit(img_flat)""",
    ),
    (
        "code",
        """# Copy `img_flat` so we can modify it
img_flat1 = img_flat.copy()

# Replace each row in the original image with its closest cluster center
for i in np.unique(kmeans.labels_):
    img_flat1[kmeans.labels_==i,:] = kmeans.cluster_centers_[i]

# Reshape the data back to the image's shape
img1 = img_flat1.reshape(img.shape)

plt.imshow(img1)
plt.axis('off');""",
    ),
    (
        "code",
        """# Calculate mean of each column in the flattened array
column_means = img_flat.mean(axis=0)
print('column means: ', column_means)""",
    ),
    ("code", "print('cluster centers: ', kmeans.cluster_centers_)"),
    (
        "code",
        """# check: one cluster's centre is exactly the column means
assert np.array_equal(kmeans.cluster_centers_[0], column_means)
assert kmeans.labels_.dtype == np.int32 and kmeans.labels_.shape == (img_flat.shape[0],)""",
    ),
    (
        "code",
        """# Create 3-D plot where each pixel in the `img` is displayed in its actual color
trace = go.Scatter3d(x = img_flat_df.r,
                     y = img_flat_df.g,
                     z = img_flat_df.b,
                     mode='markers',
                     marker=dict(size=1,
                                 color=['rgb({},{},{})'.format(r,g,b) for
                                        r,g,b in zip(img_flat_df.r.values,
                                                     img_flat_df.g.values,
                                                     img_flat_df.b.values)],
                                 opacity=0.5))
data = [trace]
layout = go.Layout(margin=dict(l=0,
                               r=0,
                               b=0,
                               t=0))
fig = go.Figure(data=data, layout=layout)
# Add centroid to chart
centroid = kmeans.cluster_centers_[0].tolist()
fig.add_trace(
    go.Scatter3d(x = [centroid[0]],
                 y = [centroid[1]],
                 z = [centroid[2]],
                 mode='markers',
                 marker=dict(size=7,
                             color=['rgb(125,79,44)'],
                             opacity=1))
)
fig.update_layout(scene = dict(
                    xaxis_title='R',
                    yaxis_title='G',
                    zaxis_title='B'),
                  )
fig.show()""",
    ),
    ("md", "## Cluster the data: k = 3"),
    (
        "code",
        """# Instantiate k-means model for 3 clusters
kmeans3 = KMeans(n_clusters=3, random_state=42).fit(img_flat)

# Check the unique values of what's returned by the .labels_ attribute
np.unique(kmeans3.labels_)""",
    ),
    (
        "code",
        """# check
assert np.unique(kmeans3.labels_).tolist() == [0, 1, 2]
assert np.unique(kmeans3.labels_).dtype == np.int32""",
    ),
    (
        "code",
        """# Assign centroid coordinates to `centers` variable
centers = kmeans3.cluster_centers_
centers""",
    ),
    (
        "code",
        """# Helper function that creates color swatches
def show_swatch(RGB_value):
    '''
    Takes in an RGB value and outputs a color swatch
    '''
    R, G, B = RGB_value
    rgb = [[np.array([R,G,B]).astype('uint8')]]
    plt.figure()
    plt.imshow(rgb)
    plt.axis('off');""",
    ),
    (
        "code",
        """# Display the color swatches
for pixel in centers:
    show_swatch(pixel)""",
    ),
    (
        "code",
        """# Helper function to display our photograph when clustered into k clusters
def cluster_image(k, img=img):
    '''
    Fits a K-means model to a photograph.
    Replaces photo's pixels with RGB values of model's centroids.
    Displays the updated image.

    Args:
      k:    (int)          - Your selected K-value
      img:  (numpy array)  - Your original image converted to a numpy array

    Returns:
      The output of plt.imshow(new_img), where new_img is a new numpy array \\
      where each row of the original array has been replaced with the \\
      coordinates of its nearest centroid.
    '''

    img_flat = img.reshape(img.shape[0]*img.shape[1], 3)
    kmeans = KMeans(n_clusters = k, random_state = 42).fit(img_flat)
    new_img = img_flat.copy()

    for i in np.unique(kmeans.labels_):
        new_img[kmeans.labels_ == i, :] = kmeans.cluster_centers_[i]

    new_img = new_img.reshape(img.shape)

    return plt.imshow(new_img), plt.axis('off');""",
    ),
    (
        "code",
        """# Generate image when k=3
cluster_image(3);""",
    ),
    (
        "code",
        """# Just to get an understanding of what the data structures look like
print(kmeans3.labels_.shape)
print(kmeans3.labels_)
print(np.unique(kmeans3.labels_))
print(kmeans3.cluster_centers_)""",
    ),
    (
        "code",
        """# Create a new column in the df that indicates the cluster number of each row
# (as assigned by Kmeans for k=3)
img_flat_df['cluster'] = kmeans3.labels_
img_flat_df.head()""",
    ),
    (
        "md",
        """The next cell adds `.tolist()` to the guide's code: under NumPy 2 a tuple of
NumPy floats prints as `(np.float64(40.7), ...)`, which Plotly cannot read as a colour
(with scikit-learn's `KMeans` too).""",
    ),
    (
        "code",
        """# Create helper dictionary to map RGB color values to each observation in df
series_conversion = {0: 'rgb' +str(tuple(kmeans3.cluster_centers_[0].tolist())),
                     1: 'rgb' +str(tuple(kmeans3.cluster_centers_[1].tolist())),
                     2: 'rgb' +str(tuple(kmeans3.cluster_centers_[2].tolist())),
                     }
series_conversion""",
    ),
    (
        "code",
        """# Replace the cluster numbers in the 'cluster' col with formatted RGB values
# (made ready for plotting)
img_flat_df['cluster'] = img_flat_df['cluster'].map(series_conversion)
img_flat_df.head()""",
    ),
    (
        "code",
        """# Replot the data, now showing which cluster (i.e., color) it was assigned to
# by K-means when k=3
trace = go.Scatter3d(x = img_flat_df.r,
                     y = img_flat_df.g,
                     z = img_flat_df.b,
                     mode='markers',
                     marker=dict(size=1,
                                 color=img_flat_df.cluster,
                                 opacity=1))
data = trace
layout = go.Layout(margin=dict(l=0,
                               r=0,
                               b=0,
                               t=0))
fig = go.Figure(data=data, layout=layout)
fig.show()""",
    ),
    (
        "code",
        """# check: every pixel is coloured by its own cluster's centre
assert img_flat_df['cluster'].nunique() == 3
assert (img_flat_df['cluster'].map({v: k for k, v in series_conversion.items()})
        == kmeans3.labels_).all()""",
    ),
    ("md", "## k = 2 .. 10"),
    (
        "code",
        """# Helper function to plot image grid
def cluster_image_grid(k, ax, img=img):
    '''
    Fits a K-means model to a photograph.
    Replaces photo's pixels with RGB values of model's centroids.
    Displays the updated image on an axis of a figure.

    Args:
      k:    (int)          - Your selected K-value
      ax:   (int)          - Index of the axis of the figure to plot to
      img:  (numpy array)  - Your original image converted to a numpy array

    Returns:
      A new image where each row of img's array has been replaced with the \\
      coordinates of its nearest centroid. Image is assigned to an axis that \\
      can be used in an image grid figure.
    '''
    img_flat = img.reshape(img.shape[0]*img.shape[1], 3)
    kmeans = KMeans(n_clusters=k, random_state=42).fit(img_flat)
    new_img = img_flat.copy()

    for i in np.unique(kmeans.labels_):
        new_img[kmeans.labels_==i, :] = kmeans.cluster_centers_[i]

    new_img = new_img.reshape(img.shape)
    ax.imshow(new_img)
    ax.axis('off')""",
    ),
    (
        "code",
        """fig, axs = plt.subplots(3, 3)
fig = matplotlib.pyplot.gcf()
fig.set_size_inches(9, 12)
axs = axs.flatten()
k_values = np.arange(2, 11)
for i, k in enumerate(k_values):
    cluster_image_grid(k, axs[i], img=img)
    axs[i].title.set_text('k=' + str(k))""",
    ),
    (
        "code",
        """# check: the grid's nine panels, k = 2 .. 10, each with exactly k colours
assert [ax.get_title() for ax in axs] == [f'k={k}' for k in range(2, 11)]
for k, ax in zip(k_values, axs):
    shown = ax.images[0].get_array().reshape(-1, 3)
    assert len(np.unique(shown, axis=0)) == k""",
    ),
]

IMAGE_COMPRESSION = [
    (
        "md",
        """# Image compression with K-means, with kpalette

The classic blog walkthrough, with its code unchanged but for one import: `KMeans` comes
from kpalette. The photos are `images/coffee.jpg` (Rachel Michetti) and
`images/chelsea.png` (Stefan van der Walt), both CC0, from scikit-image's samples. The
compressed images are written in a temporary folder.""",
    ),
    (
        "code",
        """from kpalette import KMeans
import numpy as np
from PIL import Image
import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import os
import tempfile
%matplotlib inline

out = tempfile.mkdtemp()""",
    ),
    (
        "code",
        """img = Image.open('images/coffee.jpg')
img_np = np.asarray(img)
img_np[0:2]""",
    ),
    ("code", "img_np.shape"),
    (
        "code",
        """pixels = img_np.reshape(img_np.shape[0] * img_np.shape[1],img_np.shape[2])
pixels.shape""",
    ),
    (
        "code",
        """model = KMeans(n_clusters =16)
model.fit(pixels)""",
    ),
    (
        "code",
        """pixel_centroids = model.labels_
cluster_centers = model.cluster_centers_
pixel_centroids""",
    ),
    ("code", "cluster_centers"),
    (
        "code",
        """final = np.zeros((pixel_centroids.shape[0],3))
final.shape""",
    ),
    (
        "code",
        """for cluster_no in range(16):
    final[pixel_centroids==cluster_no] = cluster_centers[cluster_no]
final[0:5]""",
    ),
    (
        "code",
        """comp_image = final.reshape(img_np.shape[0],img_np.shape[1],3)
comp_image.shape""",
    ),
    (
        "code",
        """comp_image = Image.fromarray(np.uint8(comp_image))
comp_image.save(os.path.join(out, 'coffee_compressed.png'))""",
    ),
    (
        "code",
        """# check: 16 colours, each pixel its cluster's centre (truncated to bytes, as np.uint8 does)
written = np.asarray(Image.open(os.path.join(out, 'coffee_compressed.png')))
assert len(np.unique(written.reshape(-1, 3), axis=0)) == 16
assert np.array_equal(written.reshape(-1, 3), np.uint8(cluster_centers[pixel_centroids]))""",
    ),
    (
        "code",
        """img1 = mpimg.imread('images/coffee.jpg')
img2 = mpimg.imread(os.path.join(out, 'coffee_compressed.png'))""",
    ),
    (
        "code",
        """fig, (ax1,ax2) = plt.subplots(1,2, figsize = (20,20))
ax1.imshow(img1)
ax1.set_title('Original image')
ax2.imshow(img2)
ax2.set_title('Compressed image')
plt.show()""",
    ),
    (
        "code",
        """print('size of original image:' ,int(os.stat('images/coffee.jpg').st_size/1024), 'kB')
print('size of compressed image:' ,int(os.stat(os.path.join(out, 'coffee_compressed.png')).st_size/1024), 'kB')""",
    ),
    (
        "md",
        """A JPEG is already compressed, and Pillow's full-colour PNG of 16 colours is no
smaller. Written as a palette PNG, which stores one 4-bit index per pixel, the same 16
colours take a fraction of the space (kpalette writes it):""",
    ),
    (
        "code",
        """import kpalette
palette_png = os.path.join(out, 'coffee_compressed_palette.png')
kpalette.quantize(img_np, 16).save(palette_png)
print('size of the palette PNG:', int(os.stat(palette_png).st_size/1024), 'kB')
# check
assert os.stat(palette_png).st_size < os.stat(os.path.join(out, 'coffee_compressed.png')).st_size""",
    ),
    ("md", "Let us try this with another image, this time choosing 32 clusters."),
    (
        "code",
        """img = Image.open('images/chelsea.png')
img_np = np.asarray(img)
pixels = img_np.reshape(img_np.shape[0] * img_np.shape[1],img_np.shape[2])
model = KMeans(n_clusters =32)
model.fit(pixels)
pixel_centroids = model.labels_
cluster_centers = model.cluster_centers_
final = np.zeros((pixel_centroids.shape[0],3))
for cluster_no in range(32):
    final[pixel_centroids==cluster_no] = cluster_centers[cluster_no]
comp_image = final.reshape(img_np.shape[0],img_np.shape[1],3)
comp_image = Image.fromarray(np.uint8(comp_image))
comp_image.save(os.path.join(out, 'chelsea_compressed.png'))
img1 = mpimg.imread('images/chelsea.png')
img2 = mpimg.imread(os.path.join(out, 'chelsea_compressed.png'))
fig, (ax1,ax2) = plt.subplots(1,2, figsize = (20,20))
ax1.imshow(img1)
ax1.set_title('Original image')
ax2.imshow(img2)
ax2.set_title('Compressed image')
plt.show()""",
    ),
    (
        "code",
        """print('size of original image:' ,int(os.stat('images/chelsea.png').st_size/1024), 'kB')
print('size of compressed image:' ,int(os.stat(os.path.join(out, 'chelsea_compressed.png')).st_size/1024), 'kB')""",
    ),
    (
        "code",
        """# check: 32 colours, and a smaller file than the original PNG
written = np.asarray(Image.open(os.path.join(out, 'chelsea_compressed.png')))
assert len(np.unique(written.reshape(-1, 3), axis=0)) == 32
assert os.stat(os.path.join(out, 'chelsea_compressed.png')).st_size < os.stat('images/chelsea.png').st_size""",
    ),
]


def write(cells, name: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    notebook.cells = [
        nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text)
        for kind, text in cells
    ]
    path = HERE / name
    nbformat.write(notebook, path)
    return path


if __name__ == "__main__":
    print(write(COLOR_COMPRESSION, "color_compression_kmeans.ipynb"))
    print(write(IMAGE_COMPRESSION, "image_compression_kmeans.ipynb"))
