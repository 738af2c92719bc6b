mod cli;
mod cluster;
mod edit;
mod images;
mod overlays;
mod render;
